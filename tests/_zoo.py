"""The doctor's regression zoo: tiny versions of the architectures readers bring, built without
downloads. Used by tests/test_diagnose.py and by the doctor section of benchmarks/run.py."""

import torch
from torch import nn
from torch.nn import functional as F


class ResBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c)
    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        return F.relu(x + self.bn2(self.conv2(h)))

class ResNet(nn.Module):
    """A ResNet-style CNN: conv-BN-ReLU stem, residual blocks with batch norm (He et al. 2016)."""

    def __init__(self, c=8, blocks=3, classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, c, 3, padding=1, bias=False), nn.BatchNorm2d(c),
                                  nn.ReLU())
        self.blocks = nn.Sequential(*[ResBlock(c) for _ in range(blocks)])
        self.head = nn.Linear(c, classes)
    def forward(self, x):
        return self.head(self.blocks(self.stem(x)).mean(dim=(2, 3)))

class PlainCNN(nn.Module):
    """A deep CNN without normalisation or shortcuts, Xavier-initialised."""

    def __init__(self, depth=20, c=8, classes=10, act=nn.ReLU):
        super().__init__()
        layers = [nn.Conv2d(1, c, 3, padding=1), act()]
        for _ in range(depth - 1):
            layers += [nn.Conv2d(c, c, 3, padding=1), act()]
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(c, classes)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.xavier_normal_(m.weight)
                nn.init.zeros_(m.bias)
    def forward(self, x):
        return self.head(self.body(x).mean(dim=(2, 3)))

class Block(nn.Module):
    def __init__(self, d, heads, residual=True):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, heads, batch_first=True)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))
        self.residual = residual
    def forward(self, x):
        T = x.shape[1]
        mask = torch.triu(torch.ones(T, T, dtype=torch.bool), 1)
        h = self.ln1(x)
        a = self.attn(h, h, h, attn_mask=mask, need_weights=False)[0]
        x = x + a if self.residual else a
        m = self.mlp(self.ln2(x))
        return x + m if self.residual else m

class TransformerLM(nn.Module):
    """A pre-LN transformer language model: token embedding, learned positions, causal mask."""

    def __init__(self, vocab=50, d=32, heads=4, layers=2, T=16, residual=True):
        super().__init__()
        self.tok = nn.Embedding(vocab, d)
        self.pos = nn.Parameter(torch.zeros(1, T, d))
        nn.init.normal_(self.pos, std=0.02)
        self.blocks = nn.ModuleList(Block(d, heads, residual) for _ in range(layers))
        self.ln = nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab)
    def forward(self, idx):
        x = self.tok(idx) + self.pos[:, : idx.shape[1]]
        for b in self.blocks:
            x = b(x)
        return self.head(self.ln(x)).flatten(0, 1)

class SeqClassifier(nn.Module):
    """Embedding, one recurrent layer, a linear read-out of the last step."""

    def __init__(self, cell="lstm", vocab=20, d=16, hidden=32, classes=4, **kw):
        super().__init__()
        self.emb = nn.Embedding(vocab, d)
        kind = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[cell]
        self.rnn = kind(d, hidden, batch_first=True, **kw)
        self.head = nn.Linear(hidden, classes)
    def forward(self, idx):
        out, _ = self.rnn(self.emb(idx))
        return self.head(out[:, -1])

class MixerBlock(nn.Module):
    def __init__(self, tokens, d):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.tok = nn.Sequential(nn.Linear(tokens, 2 * tokens), nn.GELU(),
                                 nn.Linear(2 * tokens, tokens))
        self.ch = nn.Sequential(nn.Linear(d, 2 * d), nn.GELU(), nn.Linear(2 * d, d))
    def forward(self, x):
        x = x + self.tok(self.ln1(x).transpose(1, 2)).transpose(1, 2)
        return x + self.ch(self.ln2(x))

class Mixer(nn.Module):
    """An MLP-Mixer (Tolstikhin et al. 2021): conv patches, token and channel MLPs."""

    def __init__(self, patch=4, d=32, depth=2, classes=10, size=16):
        super().__init__()
        self.patch = nn.Conv2d(1, d, patch, stride=patch)
        tokens = (size // patch) ** 2
        self.blocks = nn.Sequential(*[MixerBlock(tokens, d) for _ in range(depth)])
        self.ln = nn.LayerNorm(d)
        self.head = nn.Linear(d, classes)
    def forward(self, x):
        h = self.patch(x).flatten(2).transpose(1, 2)
        return self.head(self.ln(self.blocks(h)).mean(dim=1))
