"""The training-time monitor's overhead: ``.venv/bin/python benchmarks/monitor.py``.

A plain PyTorch training loop (SGD with momentum, batches of 64, cross-entropy) timed without
the monitor and with ``vgcourse.Monitor`` recording every step and every 5th and 25th step, on
chapter 8's network (12 hidden ReLU layers of 64 units, float64) and on a wider float32 one
(4 × 512). The variants run interleaved, after one warm-up, and the medians are reported with
the load average, since the machine may be shared. Writes ``benchmarks/monitor.json``. No test
asserts a timing.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import vgcourse  # noqa: E402

RESULTS = ROOT / "benchmarks" / "monitor.json"
CASES = {  # name -> (depth, width, dtype)
    "chapter 8 MLP, 12 x 64, float64": (12, 64, torch.float64),
    "wide MLP, 4 x 512, float32": (4, 512, torch.float32),
}


def loop(depth, width, dtype, every, steps=100):
    """Seconds for ``steps`` training steps; ``every=None`` runs without the monitor."""
    model = vgcourse.mlp(depth, width, in_features=32, out_features=10, seed=0, dtype=dtype)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2048, 32, generator=g, dtype=dtype)
    y = torch.randint(10, (2048,), generator=g)
    monitor = vgcourse.Monitor(model, optimizer, every=every or 1)
    start = time.perf_counter()
    if every is not None:
        monitor.start()
    for _ in range(steps):
        batch = torch.randint(len(x), (64,), generator=g)
        loss = torch.nn.functional.cross_entropy(model(x[batch]), y[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    monitor.stop()
    return time.perf_counter() - start


def main(repeats: int = 7) -> dict:
    torch.set_num_threads(1)
    results = {"load_before": os.getloadavg()[0], "repeats": repeats, "cases": {}}
    variants = {"plain loop": None, "every step": 1, "every 5th": 5, "every 25th": 25}
    for case, (depth, width, dtype) in CASES.items():
        times = {v: [] for v in variants}
        for every in variants.values():  # warm-up
            loop(depth, width, dtype, every, steps=5)
        for _ in range(repeats):
            for v, every in variants.items():
                times[v].append(loop(depth, width, dtype, every))
        medians = {v: statistics.median(t) for v, t in times.items()}
        results["cases"][case] = {
            "seconds_per_100_steps": medians,
            "ratio_to_plain": {v: medians[v] / medians["plain loop"] for v in variants},
        }
    results["load_after"] = os.getloadavg()[0]
    return results


if __name__ == "__main__":
    found = main()
    print(f"load average {found['load_before']:.2f} -> {found['load_after']:.2f}")
    for case, row in found["cases"].items():
        print(f"\n{case}")
        for v, seconds in row["seconds_per_100_steps"].items():
            print(f"  {v:<12} {seconds * 10:8.2f} ms/step   x{row['ratio_to_plain'][v]:.2f}")
    RESULTS.write_text(json.dumps(found, indent=1) + "\n")
