"""Gradient checkpointing's recompute cost: ``.venv/bin/python benchmarks/checkpointing.py``.

One forward and backward pass of chapter 12's tanh RNN (hidden size 64, batch 16, float32) over
T steps, with every state kept and with ``torch.utils.checkpoint`` segments of ⌊√T⌋ steps
(``vgcourse.memory.bptt_cost``), for T from 64 to 2048. The two variants run interleaved,
after one warm-up, and the medians are reported with the peak memory (exact, from the
saved-tensor meter) and the load average, since the machine may be shared. The theory is one
extra forward pass: a time ratio between 1 and 2, near 1 + F/(F + B) for forward and backward
times F and B. Writes ``benchmarks/checkpointing.json``. No test asserts a timing.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vgcourse.memory import bptt_cost  # noqa: E402

RESULTS = ROOT / "benchmarks" / "checkpointing.json"
LENGTHS = (64, 256, 1024, 2048)


def main(repeats: int = 7) -> dict:
    torch.set_num_threads(1)
    results = {"load_before": os.getloadavg()[0], "repeats": repeats, "lengths": {}}
    bptt_cost(64)  # warm-up, both paths
    bptt_cost(64, 8)
    for steps in LENGTHS:
        segment = math.isqrt(steps)
        full, ckpt = [], []
        for _ in range(repeats):
            full.append(bptt_cost(steps))
            ckpt.append(bptt_cost(steps, segment))
        t_full = statistics.median(c.seconds for c in full)
        t_ckpt = statistics.median(c.seconds for c in ckpt)
        results["lengths"][str(steps)] = {
            "segment": segment,
            "seconds_all_kept": t_full,
            "seconds_checkpointed": t_ckpt,
            "time_ratio": t_ckpt / t_full,
            "peak_states_all_kept": full[0].peak_states,
            "peak_states_checkpointed": ckpt[0].peak_states,
        }
    results["load_after"] = os.getloadavg()[0]
    return results


if __name__ == "__main__":
    found = main()
    print(f"load average {found['load_before']:.2f} -> {found['load_after']:.2f}")
    for steps, row in found["lengths"].items():
        print(f"T = {steps:>4}, k = {row['segment']:>2}: "
              f"{1e3 * row['seconds_all_kept']:7.1f} ms all kept "
              f"({row['peak_states_all_kept']:.0f} states), "
              f"{1e3 * row['seconds_checkpointed']:7.1f} ms checkpointed "
              f"({row['peak_states_checkpointed']:.0f} states), x{row['time_ratio']:.2f}")
    RESULTS.write_text(json.dumps(found, indent=1) + "\n")
