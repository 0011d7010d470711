#!/usr/bin/env python
"""Synth time of the whole app (`python main.py`), lazy provider loader against the eager import.

Runs alternate (lazy, eager, lazy, eager, ...) so that machine noise hits both alike, and prints
each run, the medians and their ratio. Usage: python tests/bench/bench_synth.py [runs per mode, >= 3]
"""

import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def synth_seconds(eager: bool, outdir: str) -> float:
    env = dict(os.environ, CDKTF_OUTDIR=outdir)
    env.pop("PADDLEOCR_EFS_EAGER_PROVIDER", None)
    if eager:
        env["PADDLEOCR_EFS_EAGER_PROVIDER"] = "1"
    start = time.perf_counter()
    subprocess.run([sys.executable, "main.py"], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    runs = max(3, int(sys.argv[1]) if len(sys.argv) > 1 else 3)
    times = {"lazy": [], "eager": []}
    with tempfile.TemporaryDirectory() as out:
        for i in range(runs):
            for mode in ("lazy", "eager"):
                seconds = synth_seconds(mode == "eager", out)
                times[mode].append(seconds)
                print(f"run {i + 1} {mode:5s} {seconds:6.2f} s", flush=True)
    lazy, eager = statistics.median(times["lazy"]), statistics.median(times["eager"])
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"median lazy  {lazy:6.2f} s over {runs} runs")
    print(f"median eager {eager:6.2f} s over {runs} runs")
    print(f"ratio lazy/eager {lazy / eager:.2f}")


if __name__ == "__main__":
    main()
