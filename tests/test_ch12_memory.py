"""Chapter 12, memory: the saved-tensor meter, checkpointed BPTT and the count of kept states."""

import pytest
import torch

from vgcourse import theory
from vgcourse.memory import SavedTensorMeter, bptt_cost


def test_meter_counts_a_saved_output_once_and_frees_it():
    w = torch.ones(5, requires_grad=True)
    with SavedTensorMeter(exclude=[w]) as meter:
        y = torch.tanh(w * 3.0)  # mul saves only the constant side (w excluded); tanh saves y
        z = (y * y).sum()  # mul saves y twice: the same storage, counted once
        z.backward()
    assert meter.peak == 5 * 4  # one float32 tensor of 5 entries
    del y, z
    assert meter.current == 0


def test_meter_adds_distinct_storages():
    w = torch.ones(3, requires_grad=True)
    with SavedTensorMeter(exclude=[w]) as meter:
        a = torch.tanh(w)  # saves a (3 floats)
        b = torch.sigmoid(a)  # saves b (3 floats)
        b.sum().backward()
    assert meter.peak == 2 * 3 * 4


@pytest.mark.parametrize(("steps", "segment", "states"), [
    (3, None, 3),  # h_1, h_2, h_3 (h_0 is excluded)
    (6, 2, 4),  # kept h_2, h_4; recomputing the last segment adds h_5, h_6
    (10, 3, 5),  # kept h_3, h_6, h_9; recomputing segment 3 (h_7..h_9) with h_3, h_6 alive
    (8, 8, 8),  # one segment: recomputed whole
])
def test_bptt_peak_is_the_hand_count(steps, segment, states):
    cost = bptt_cost(steps, segment, hidden=4, batch=2)
    assert cost.peak_states == states
    assert cost.state_bytes == 2 * 4 * 4
    assert theory.checkpoint_peak_states(steps, segment) == states


def test_checkpointing_keeps_the_gradient():
    full = bptt_cost(20, None, hidden=6, batch=3, dtype=torch.float64)
    ckpt = bptt_cost(20, 4, hidden=6, batch=3, dtype=torch.float64)
    assert torch.allclose(full.grad, ckpt.grad, rtol=1e-12, atol=0)
    assert full.grad.abs().max() > 0


def test_checkpoint_count_and_best_segment():
    # T = 16: k = 3 gives n = 6 segments, the last of 1 step: max(5 + 1, 4 + 3) = 7;
    # k = 4 also gives 7 (max(3 + 4, 2 + 4)); k = 2 gives max(7 + 2, 6 + 2) = 9.
    assert theory.checkpoint_peak_states(16, 3) == 7
    assert theory.checkpoint_peak_states(16, 4) == 7
    assert theory.checkpoint_peak_states(16, 2) == 9
    assert theory.checkpoint_best_segment(16) == 3
    assert theory.checkpoint_peak_states(16, 40) == 16  # a segment longer than T is one segment
    assert theory.checkpoint_peak_states(16) == 16


@pytest.mark.parametrize(("kwargs", "name"), [
    ({"steps": 0}, "steps"), ({"steps": 4, "segment": 0}, "segment"),
    ({"steps": 4, "hidden": 0}, "hidden"), ({"steps": 4, "seed": -1}, "seed"),
])
def test_bptt_cost_names_the_bad_argument(kwargs, name):
    with pytest.raises(ValueError, match=name):
        bptt_cost(**kwargs)
