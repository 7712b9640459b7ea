"""Memory of backpropagation through time, and gradient checkpointing.

Backpropagation needs, for every operation of the forward pass, the tensors its backward pass
reads: a recurrent network unrolled over T steps keeps T hidden states alive until the backward
pass reaches them. Gradient checkpointing (Chen et al. 2016) keeps only the hidden state at the
start of each segment of k steps and recomputes a segment's internals when the backward pass
needs them, trading one extra forward pass for memory that grows like T/k + k instead of T.

Memory is measured here without the allocator: :class:`SavedTensorMeter` installs
``torch.autograd.graph.saved_tensors_hooks`` and follows the life of every storage saved for the
backward pass, so the peak it reports is exact and the same on every run and machine.
"""

from __future__ import annotations

import math
import time
import weakref
from dataclasses import dataclass

import torch
from torch.utils import checkpoint as _checkpoint

from ._validation import check_int, check_seed


class _Saved:
    """A saved tensor's stand-in; when autograd drops it, the meter releases its storage."""

    __slots__ = ("tensor", "__weakref__")

    def __init__(self, tensor: torch.Tensor, meter: SavedTensorMeter, key: int):
        self.tensor = tensor
        weakref.finalize(self, meter._release, key)


class SavedTensorMeter:
    """Peak bytes of the storages autograd keeps for the backward pass, inside a ``with`` block.

    Every tensor saved for backward (``ctx.save_for_backward`` and the built-in operations'
    saved inputs and outputs) passes through the meter's pack hook. Tensors that share a
    storage (a hidden state saved by ``tanh`` as its output and by the next matrix product as
    its input) count once; a storage is released when the last saved tensor using it is freed.
    Storages listed in ``exclude`` (parameters, the input sequence: alive anyway) are not
    counted.

    Parameters
    ----------
    exclude : iterable of Tensor, optional
        Tensors whose storage is not counted.

    Attributes
    ----------
    current : int
        Bytes saved and not yet freed.
    peak : int
        The largest value ``current`` reached.

    Examples
    --------
    >>> w = torch.ones(3, requires_grad=True)
    >>> with SavedTensorMeter(exclude=[w]) as meter:
    ...     y = torch.tanh(w * 2.0)  # saves tanh's output (3 floats; w itself is excluded)
    ...     y.sum().backward()
    >>> meter.peak
    12
    """

    def __init__(self, exclude=()):
        self._exclude = {t.untyped_storage().data_ptr() for t in exclude}
        self._live: dict[int, list[int]] = {}
        self.current = 0
        self.peak = 0
        self._hooks = None

    def _pack(self, tensor: torch.Tensor):
        storage = tensor.untyped_storage()
        key = storage.data_ptr()
        if key in self._exclude or storage.nbytes() == 0:
            return tensor
        entry = self._live.setdefault(key, [0, storage.nbytes()])
        if entry[0] == 0:
            self.current += entry[1]
            self.peak = max(self.peak, self.current)
        entry[0] += 1
        return _Saved(tensor, self, key)

    @staticmethod
    def _unpack(packed):
        return packed if isinstance(packed, torch.Tensor) else packed.tensor

    def _release(self, key: int) -> None:
        entry = self._live[key]
        entry[0] -= 1
        if entry[0] == 0:
            self.current -= entry[1]
            del self._live[key]

    def __enter__(self) -> SavedTensorMeter:
        self._hooks = torch.autograd.graph.saved_tensors_hooks(self._pack, self._unpack)
        self._hooks.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._hooks.__exit__(*exc)


@dataclass(frozen=True)
class BpttCost:
    """What one forward and backward pass through an unrolled RNN cost.

    Attributes
    ----------
    steps : int
        Sequence length T.
    segment : int or None
        Checkpoint segment length k (None: no checkpointing, every state kept).
    peak_bytes : int
        Peak bytes saved for the backward pass (:class:`SavedTensorMeter`), parameters and
        inputs excluded.
    state_bytes : int
        Bytes of one hidden state (batch × hidden × element size): ``peak_bytes /
        state_bytes`` is the peak in hidden states.
    seconds : float
        Wall time of the forward and backward pass (varies from run to run).
    grad : Tensor
        Gradient of the loss with respect to the recurrent weight matrix (for comparing runs).
    """

    steps: int
    segment: int | None
    peak_bytes: int
    state_bytes: int
    seconds: float
    grad: torch.Tensor

    @property
    def peak_states(self) -> float:
        """The peak memory in units of one hidden state."""
        return self.peak_bytes / self.state_bytes


def bptt_cost(steps: int, segment: int | None = None, hidden: int = 64, batch: int = 16,
              seed: int = 0, dtype: torch.dtype = torch.float32) -> BpttCost:
    """Run a tanh RNN over ``steps`` steps forward and backward, and measure its memory and time.

    The cell is h_t = tanh(x_t W + h_{t-1} U) with input and hidden size ``hidden``; the loss
    is ½‖h_T‖². With ``segment = k`` the sequence is cut into segments of k steps (the last may
    be shorter), each run through ``torch.utils.checkpoint.checkpoint``: only its starting
    state is kept, and its internals are recomputed in the backward pass. The reentrant variant
    (``use_reentrant=True``) is used because it recomputes under the caller's saved-tensor
    hooks, so :class:`SavedTensorMeter` sees the recomputed states too; the non-reentrant
    variant installs hooks of its own that hide them (its memory is the same). The gradient is
    the same with and without checkpointing.

    Parameters
    ----------
    steps : int
        Sequence length T >= 1.
    segment : int, optional
        Segment length k >= 1; None keeps every state.
    hidden, batch : int, default 64, 16
    seed : int, default 0
        Seeds the weights and the input sequence.
    dtype : torch.dtype, default torch.float32

    Returns
    -------
    BpttCost
    """
    check_int("steps", steps)
    if segment is not None:
        check_int("segment", segment)
    check_int("hidden", hidden)
    check_int("batch", batch)
    check_seed("seed", seed)
    gen = torch.Generator().manual_seed(seed)
    scale = 1.0 / math.sqrt(hidden)
    w = (torch.randn(hidden, hidden, generator=gen, dtype=dtype) * scale).requires_grad_()
    u = (torch.randn(hidden, hidden, generator=gen, dtype=dtype) * scale).requires_grad_()
    xs = torch.randn(steps, batch, hidden, generator=gen, dtype=dtype)
    # the first state requires grad so that reentrant checkpointing keeps the first segment's
    # graph (it only differentiates segments with an input that requires grad)
    h = torch.zeros(batch, hidden, dtype=dtype, requires_grad=True)

    def run(h, chunk):
        for x in chunk.unbind(0):
            h = torch.tanh(x @ w + h @ u)
        return h

    start = time.perf_counter()
    with SavedTensorMeter(exclude=[w, u, xs, h]) as meter:
        if segment is None:
            h = run(h, xs)
        else:
            for s in range(0, steps, segment):
                h = _checkpointed(run, h, xs[s:s + segment])
        (0.5 * h.pow(2).sum()).backward()
    seconds = time.perf_counter() - start
    state = batch * hidden * torch.finfo(dtype).bits // 8
    return BpttCost(steps=steps, segment=segment, peak_bytes=meter.peak, state_bytes=state,
                    seconds=seconds, grad=u.grad.detach().clone())


def _checkpointed(fn, *args):
    """``torch.utils.checkpoint.checkpoint(fn, *args, use_reentrant=True)``.

    The public function is wrapped in ``torch._disable_dynamo``, whose first call imports the
    compiler stack (seconds on a small machine); its reentrant branch only calls
    ``CheckpointFunction.apply(fn, True, *args)``, which this calls directly when it exists.
    """
    function = getattr(_checkpoint, "CheckpointFunction", None)
    if function is None:  # pragma: no cover - a PyTorch without the reentrant class
        return _checkpoint.checkpoint(fn, *args, use_reentrant=True)
    return function.apply(fn, True, *args)
