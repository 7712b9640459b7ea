"""Small deterministic datasets, generated on the spot: nothing is downloaded.

Every function takes ``device`` (default ``None``, the CPU): the data are drawn on the CPU from a
seeded generator and then moved there, so a seed gives the same numbers on every device.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass

import torch

from ._validation import check_choice, check_int, check_positive, check_seed

# Models draw their weights from torch.Generator().manual_seed(seed); data drawn from the very
# same stream would correlate the inputs with the first weight matrix (x and W_1 would share
# their numbers when seed and shape match). Data use their own stream of the same seed.
_DATA_STREAM = 0x5EED_DA7A


def _generator(seed: int) -> torch.Generator:
    """The random stream for data with this seed, distinct from the models' stream."""
    check_seed("seed", seed)
    return torch.Generator().manual_seed(_DATA_STREAM + seed)


def gaussian_batch(
    batch: int = 64,
    features: int = 64,
    out_features: int = 1,
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Standard-normal inputs and targets: enough to probe gradient flow at initialisation.

    ``device`` places both tensors (default the CPU); the draw does not depend on it.

    Returns
    -------
    x : Tensor of shape (batch, features)
    y : Tensor of shape (batch, out_features)
    """
    check_int("batch", batch)
    check_int("features", features)
    check_int("out_features", out_features)
    g = _generator(seed)
    x = torch.randn(batch, features, generator=g, dtype=dtype)
    y = torch.randn(batch, out_features, generator=g, dtype=dtype)
    return x.to(device), y.to(device)


def gaussian_clusters(
    n: int = 4096,
    features: int = 64,
    classes: int = 10,
    spread: float = 1.0,
    seed: int = 0,
    device: torch.device | str | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """A classification task: ``classes`` Gaussian blobs with unit-normal centres.

    Returns float32 inputs of shape (n, features) and int64 labels of shape (n,), on
    ``device`` (default the CPU).
    """
    check_int("n", n)
    check_int("features", features)
    check_int("classes", classes, minimum=2)
    check_positive("spread", spread)
    g = _generator(seed)
    centres = torch.randn(classes, features, generator=g)
    labels = torch.randint(classes, (n,), generator=g)
    noise = spread / math.sqrt(features) * torch.randn(n, features, generator=g)
    return (centres[labels] + noise).to(device), labels.to(device)


def spirals(
    n: int = 600, classes: int = 3, noise: float = 0.1, seed: int = 0,
    device: torch.device | str | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Interleaved 2-D spirals, one arm per class: a task a linear model cannot solve.

    Returns float32 inputs of shape (n, 2) and int64 labels of shape (n,), on ``device``
    (default the CPU).
    """
    check_int("n", n)
    check_int("classes", classes, minimum=2)
    check_positive("noise", noise, allow_zero=True)
    g = _generator(seed)
    labels = torch.arange(n) % classes
    radius = torch.rand(n, generator=g)
    angle = 4.0 * radius + labels * (2 * math.pi / classes) + noise * torch.randn(n, generator=g)
    x = torch.stack([radius * torch.cos(angle), radius * torch.sin(angle)], dim=1)
    return x.to(device), labels.to(device)


def adding_problem(
    n: int = 1000, length: int = 50, seed: int = 0, dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The adding problem (Hochreiter & Schmidhuber 1997), in the form of Le et al. (2015).

    Each step carries two numbers: a value drawn from U(0, 1) and a marker that is 1 at exactly
    two steps, one in each half of the sequence, and 0 elsewhere. The target is the sum of the
    two marked values. Always answering 1 scores a mean squared error of Var(u₁ + u₂) = 1/6.

    Parameters
    ----------
    n : int, default 1000
        Number of sequences.
    length : int, default 50
        Sequence length T, at least 2.
    seed : int, default 0
    dtype : torch.dtype, default torch.float32
    device : torch.device or str, optional
        Where both tensors go (default the CPU); the draw does not depend on it.

    Returns
    -------
    x : Tensor of shape (n, length, 2)
        Channel 0 the values, channel 1 the markers.
    y : Tensor of shape (n, 1)
    """
    check_int("n", n)
    check_int("length", length, minimum=2)
    g = _generator(seed)
    values = torch.rand(n, length, generator=g, dtype=torch.float64)
    half = length // 2
    first = torch.randint(half, (n,), generator=g)
    second = half + torch.randint(length - half, (n,), generator=g)
    markers = torch.zeros(n, length, dtype=torch.float64)
    rows = torch.arange(n)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    y = (values * markers).sum(dim=1, keepdim=True)
    return (torch.stack([values, markers], dim=2).to(device=device, dtype=dtype),
            y.to(device=device, dtype=dtype))


COPY_SYMBOLS = 8  # data symbols 1..8; 0 is the blank and 9 the delimiter ("go") symbol


def copy_task(
    n: int = 1000, delay: int = 20, memory: int = 10, seed: int = 0,
    dtype: torch.dtype = torch.float32, device: torch.device | str | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The copy task (Arjovsky et al. 2016): remember ``memory`` symbols across ``delay`` steps.

    The input is ``memory`` symbols drawn uniformly from 1..8, then ``delay − 1`` blanks (0),
    a delimiter (9), and ``memory`` more blanks: length ``delay + 2·memory``. The target is
    blank everywhere except the last ``memory`` steps, which repeat the symbols. A memoryless
    model that outputs blank, then a uniform guess, scores a cross-entropy of
    memory·ln 8 / (delay + 2·memory), i.e. 10·ln 8/(T + 20) for the usual memory of 10.

    Parameters
    ----------
    n : int, default 1000
        Number of sequences.
    delay : int, default 20
        The delay T between the last symbol and the delimiter's step.
    memory : int, default 10
        Number of symbols to copy.
    seed : int, default 0
    dtype : torch.dtype, default torch.float32
        Dtype of the one-hot inputs.
    device : torch.device or str, optional
        Where both tensors go (default the CPU); the draw does not depend on it.

    Returns
    -------
    x : Tensor of shape (n, delay + 2·memory, 10)
        One-hot inputs over the 10 symbols.
    y : Tensor of int64, shape (n, delay + 2·memory)
        Target symbol at each step.
    """
    check_int("n", n)
    check_int("delay", delay)
    check_int("memory", memory)
    g = _generator(seed)
    length = delay + 2 * memory
    symbols = torch.randint(1, COPY_SYMBOLS + 1, (n, memory), generator=g)
    inputs = torch.zeros(n, length, dtype=torch.int64)
    inputs[:, :memory] = symbols
    inputs[:, memory + delay - 1] = COPY_SYMBOLS + 1
    targets = torch.zeros(n, length, dtype=torch.int64)
    targets[:, -memory:] = symbols
    x = torch.nn.functional.one_hot(inputs, COPY_SYMBOLS + 2).to(dtype)
    return x.to(device), targets.to(device)


def history_task(
    n: int = 512, length: int = 100, cycle: int = 4, lead: int = 5, rate: float = 0.05,
    seed: int = 0, device: torch.device | str | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Long, mostly predictable symbol sequences whose label is one early, rare symbol.

    A task for history compression (Schmidhuber 1992). The background repeats the cycle
    0, 1, …, ``cycle`` − 1 from a random phase, so it is predictable. Rare events replace it:
    one *key*, symbol ``cycle`` or ``cycle + 1``, at a position drawn from 1..``lead``, and after
    it, independently at each later step with probability ``rate``, a *distractor*, symbol
    ``cycle + 2`` or ``cycle + 3``. The label is the key (0 or 1), so it lies about
    ``length − lead`` steps before the end; the distractors carry nothing about it. The
    vocabulary has ``cycle + 4`` symbols.

    Parameters
    ----------
    n : int, default 512
        Number of sequences.
    length : int, default 100
        Sequence length T, greater than ``lead``.
    cycle : int, default 4
        Period of the predictable background, at least 2.
    lead : int, default 5
        The key sits at a position drawn uniformly from 1..lead (0-based).
    rate : float, default 0.05
        Probability of a distractor at each step after the key, in [0, 1].
    seed : int, default 0
    device : torch.device or str, optional
        Where both tensors go (default the CPU); the draw does not depend on it.

    Returns
    -------
    symbols : Tensor of int64, shape (n, length)
    labels : Tensor of int64, shape (n,)
        The key minus ``cycle``: 0 or 1, balanced in expectation.

    Examples
    --------
    >>> symbols, labels = history_task(n=2, length=12, rate=0.0)
    >>> symbols.shape, int((symbols >= 4).sum())  # one key per sequence, no distractor
    (torch.Size([2, 12]), 2)
    """
    check_int("n", n)
    check_int("cycle", cycle, minimum=2)
    check_int("lead", lead)
    check_int("length", length, minimum=lead + 1)
    check_positive("rate", rate, allow_zero=True, maximum=1.0)
    g = _generator(seed)
    phase = torch.randint(cycle, (n, 1), generator=g)
    steps = torch.arange(length)
    symbols = (phase + steps) % cycle
    key_at = torch.randint(1, lead + 1, (n, 1), generator=g)
    labels = torch.randint(2, (n,), generator=g)
    later = (torch.rand(n, length, generator=g) < rate) & (steps > key_at)
    distractor = cycle + 2 + torch.randint(2, (n, length), generator=g)
    symbols = torch.where(later, distractor, symbols)
    symbols = torch.where(steps == key_at, (cycle + labels)[:, None], symbols)
    return symbols.to(device), labels.to(device)


def random_teacher(
    n: int = 2048,
    features: int = 64,
    classes: int = 10,
    hidden: int = 64,
    depth: int = 2,
    seed: int = 0,
    device: torch.device | str | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """A classification task labelled by a random network: the labels are learnable exactly.

    ``device`` places both tensors (default the CPU); the draw does not depend on it.

    Inputs are standard normal; a teacher MLP (``depth`` tanh layers of ``hidden`` units with
    LeCun-normal weights scaled by 1.5, then a linear read-out) labels each point with the
    class of its largest output. Unlike noise labels, a student large enough can reach 100 %.

    Returns
    -------
    x : Tensor of shape (n, features), float32
    y : Tensor of shape (n,), int64 class indices
    """
    check_int("n", n)
    check_int("features", features)
    check_int("classes", classes, minimum=2)
    check_int("hidden", hidden)
    check_int("depth", depth)
    g = _generator(seed)
    x = torch.randn(n, features, generator=g, dtype=torch.float64)
    h = x
    for _ in range(depth):
        w = 1.5 * torch.randn(h.shape[1], hidden, generator=g, dtype=torch.float64)
        h = torch.tanh(h @ w / math.sqrt(h.shape[1]))
    readout = torch.randn(hidden, classes, generator=g, dtype=torch.float64)
    return x.float().to(device), (h @ readout).argmax(dim=1).to(device)


DIGITS_TEST = 497  # the held-out images of :func:`digits`, about 28 % of the 1797


@functools.lru_cache(maxsize=1)
def _digit_arrays():
    """The pixels (1797, 64) and labels of scikit-learn's bundled digits, read once.

    Reads the file ``load_digits`` reads, ``sklearn/datasets/data/digits.csv.gz``, without
    importing scikit-learn (whose import takes about a second); falls back to ``load_digits``
    if the file is not where it is expected. The arrays are read-only.
    """
    import importlib.util
    from pathlib import Path

    import numpy as np

    spec = importlib.util.find_spec("sklearn")
    if spec is None or spec.origin is None:  # pragma: no cover - depends on the environment
        raise ImportError("digits() needs scikit-learn: pip install 'vgcourse[cases]'")
    path = Path(spec.origin).parent / "datasets" / "data" / "digits.csv.gz"
    if path.exists():
        table = np.loadtxt(path, delimiter=",")
        pixels, target = table[:, :-1], table[:, -1].astype(int)
    else:  # pragma: no cover - a scikit-learn that keeps its data elsewhere
        from sklearn.datasets import load_digits

        bunch = load_digits()
        pixels, target = bunch.data, bunch.target
    pixels.setflags(write=False)
    target.setflags(write=False)
    return pixels, target

def digits(
    split: str = "train", test_size: int = DIGITS_TEST, seed: int = 0,
    dtype: torch.dtype = torch.float32, device: torch.device | str | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Scikit-learn's bundled 8×8 handwritten digits, with a fixed train/test split.

    The 1797 images of ``sklearn.datasets.load_digits`` ship inside scikit-learn (nothing is
    downloaded; install it with ``pip install "vgcourse[cases]"``). A seeded permutation puts
    ``test_size`` images in the test split and the rest in the training split. Pixel
    intensities 0–16 are scaled to [0, 1], so both splits use the same fixed scaling and no
    statistic of the test images leaks into training.

    Parameters
    ----------
    split : {"train", "test"}, default "train"
    test_size : int, default 497
        Images held out for testing, between 1 and 1796.
    seed : int, default 0
        Seeds the permutation that defines the split.
    dtype : torch.dtype, default torch.float32
    device : torch.device or str, optional
        Where both tensors go (default the CPU).

    Returns
    -------
    x : Tensor of shape (n, 64)
        Pixels in [0, 1], row by row (pixel ``8·r + c`` is row r, column c).
    y : Tensor of int64, shape (n,)
        The digit, 0–9.
    """
    check_choice("split", split, ("train", "test"))
    check_int("test_size", test_size)
    pixels, target = _digit_arrays()
    n = len(target)
    if test_size >= n:
        raise ValueError(f"test_size={test_size!r} is not allowed; expected an integer "
                         f"between 1 and {n - 1}.")
    x = torch.tensor(pixels, dtype=torch.float64) / 16.0  # a copy: the cache stays intact
    y = torch.tensor(target, dtype=torch.int64)
    order = torch.randperm(n, generator=_generator(seed))
    index = order[:test_size] if split == "test" else order[test_size:]
    return x[index].to(device=device, dtype=dtype), y[index].to(device)


def sequential_digits(
    split: str = "train", test_size: int = DIGITS_TEST, seed: int = 0,
    dtype: torch.dtype = torch.float32, device: torch.device | str | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The images of :func:`digits` read one pixel per time step: 64-step sequences.

    The same split, scaling and labels as :func:`digits`; pixel t of the sequence is row
    t // 8, column t % 8. A recurrent network must carry what it saw in the top rows across up
    to 63 steps to the read-out at the last one.

    Returns
    -------
    x : Tensor of shape (n, 64, 1)
    y : Tensor of int64, shape (n,)
    """
    x, y = digits(split, test_size=test_size, seed=seed, dtype=dtype, device=device)
    return x.reshape(len(x), 64, 1), y


#: The classes of :func:`textures`, in label order: the orientation of the stripes.
TEXTURES = ("vertical", "rising diagonal", "horizontal", "falling diagonal")


def textures(
    split: str = "train", train_size: int = 2000, test_size: int = 500, size: int = 32,
    noise: float = 0.5, seed: int = 0, dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Procedurally generated grey images of striped textures: an image task with no download.

    Each image is a sinusoidal grating ``c·(1 + sin(2π·⟨(x, y), n⟩/p + φ))/2`` whose stripes
    run in one of four orientations (:data:`TEXTURES`, labels 0–3, drawn with equal
    probability): the normal ``n`` points at angle ``label·45°`` plus a random tilt of up to
    ±11.25°, the period p is uniform in [4, 8] pixels, the phase φ uniform, the contrast c
    uniform in [0.5, 1], and Gaussian noise of standard deviation ``noise`` is added to every
    pixel. The training and test images are the first ``train_size`` and the last
    ``test_size`` of one seeded draw, so the splits never share an image and a seed gives the
    same images on every machine.

    Parameters
    ----------
    split : {"train", "test"}, default "train"
    train_size, test_size : int, default 2000 and 500
    size : int, default 32
        Image side in pixels, at least 8.
    noise : float, default 0.5
        Standard deviation of the pixel noise (0 for clean gratings).
    seed : int, default 0
    dtype : torch.dtype, default torch.float32
    device : torch.device or str, optional

    Returns
    -------
    x : Tensor of shape (n, 1, size, size)
    y : Tensor of int64, shape (n,)

    Examples
    --------
    >>> x, y = textures("test", test_size=8)
    >>> tuple(x.shape), tuple(y.shape)
    ((8, 1, 32, 32), (8,))
    """
    check_choice("split", split, ("train", "test"))
    check_int("train_size", train_size)
    check_int("test_size", test_size)
    check_int("size", size, minimum=8)
    check_positive("noise", noise, allow_zero=True)
    g = _generator(seed)
    n = train_size + test_size
    f64 = torch.float64
    label = torch.randint(len(TEXTURES), (n,), generator=g)
    tilt = (torch.rand(n, generator=g, dtype=f64) - 0.5) * (math.pi / 8)
    angle = label.to(f64) * (math.pi / 4) + tilt
    period = 4 + 4 * torch.rand(n, generator=g, dtype=f64)
    phase = 2 * math.pi * torch.rand(n, generator=g, dtype=f64)
    contrast = 0.5 + 0.5 * torch.rand(n, generator=g, dtype=f64)
    pixels = noise * torch.randn(n, size, size, generator=g, dtype=f64)
    grid = torch.arange(size, dtype=f64)
    along = (torch.cos(angle)[:, None, None] * grid[None, None, :]
             + torch.sin(angle)[:, None, None] * grid[None, :, None])  # ⟨(x, y), n⟩
    wave = torch.sin(2 * math.pi * along / period[:, None, None] + phase[:, None, None])
    images = pixels + contrast[:, None, None] * (1 + wave) / 2
    index = slice(0, train_size) if split == "train" else slice(train_size, n)
    return images[index, None].to(device=device, dtype=dtype), label[index].to(device)


@dataclass
class Corpus:
    """A character-level corpus with a fixed train/validation split (see :func:`source_text`)."""

    train_text: str
    val_text: str
    vocab: list[str]
    files: list[str]
    python_version: str

    def encode(self, text: str) -> torch.Tensor:
        """Character ids of ``text`` (characters outside the vocabulary become ``"?"``)."""
        index = {c: i for i, c in enumerate(self.vocab)}
        return torch.tensor([index.get(c, index["?"]) for c in text], dtype=torch.long)


def source_text(max_chars: int = 300_000, min_file_chars: int = 2_000,
                max_file_chars: int = 60_000, val_fraction: float = 0.1) -> Corpus:
    """Real text without a download: Python's standard library source, shipped with vgcourse.

    Files are the public top-level modules of CPython 3.11.7's standard library, shipped
    compressed in ``vgcourse/corpus/`` with their licence and provenance (the running
    interpreter's own library would give other text, and other numbers, on another Python,
    Colab's for one). They are taken in alphabetical order, skipping files shorter than
    ``min_file_chars`` or longer than ``max_file_chars``, until ``max_chars`` characters are
    collected. Tabs become four spaces and characters outside printable ASCII become ``"?"``,
    so the vocabulary is at most 97 symbols. The last ``val_fraction`` of the text is the
    validation split. The corpus is identical on every machine and every Python; the version
    it was taken from is recorded in ``python_version``.

    Parameters
    ----------
    max_chars : int, default 300_000
        Total characters, at least 1000 (fewer only if the shipped files run out: at the
        default file limits they hold more than 600 000).
    min_file_chars, max_file_chars : int, default 2_000 and 60_000
        Files outside this length range are skipped.
    val_fraction : float, default 0.1
        Fraction at the end held out for validation, strictly between 0 and 1.

    Returns
    -------
    Corpus
        ``train_text``, ``val_text``, ``vocab`` (sorted characters, always with ``"?"``),
        ``files`` (the file names used, in order) and ``python_version`` (of the library the
        text comes from).

    Examples
    --------
    >>> corpus = source_text(max_chars=20_000)
    >>> len(corpus.train_text) + len(corpus.val_text)
    20000
    """
    import string

    check_int("max_chars", max_chars, minimum=1000)
    check_int("min_file_chars", min_file_chars, minimum=0)
    check_int("max_file_chars", max_file_chars)
    if max_file_chars < min_file_chars:
        raise ValueError(f"max_file_chars={max_file_chars!r} is not allowed; expected at least "
                         f"min_file_chars={min_file_chars!r}.")
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction={val_fraction!r} is not allowed; expected 0 < value < 1.")
    python_version, shipped = _shipped_stdlib()
    allowed = set(string.printable) - set("\t\r\x0b\x0c")
    chunks, files, total = [], [], 0
    for name, text in shipped:
        text = text.replace("\t", "    ")
        if not min_file_chars <= len(text) <= max_file_chars:
            continue
        text = "".join(c if c in allowed else "?" for c in text)
        take = text[: max_chars - total]
        chunks.append(take)
        files.append(name)
        total += len(take)
        if total >= max_chars:
            break
    if not files:
        raise ValueError(f"no shipped source file is between min_file_chars={min_file_chars!r} "
                         f"and max_file_chars={max_file_chars!r} characters long.")
    full = "".join(chunks)
    split = int(len(full) * (1 - val_fraction))
    vocab = sorted(set(full) | {"?"})
    return Corpus(full[:split], full[split:], vocab, files, python_version)


CORPUS_FILE = "stdlib-3.11.7.json.xz"  # written by tools/corpus.py; see vgcourse/corpus/


def _shipped_stdlib() -> tuple[str, list[tuple[str, str]]]:
    """The shipped standard-library files: the Python version and ``(name, text)`` pairs."""
    import lzma
    from importlib import resources

    packed = resources.files("vgcourse").joinpath("corpus", CORPUS_FILE).read_bytes()
    shipped = json.loads(lzma.decompress(packed).decode("utf-8"))
    return shipped["python_version"], [(name, text) for name, text in shipped["files"]]
