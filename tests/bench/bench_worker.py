#!/usr/bin/env python
"""Worker figures on this machine, from the real PP-OCRv5 mobile weights in a local mirror:

- cold warm: `ocr-worker warm` into an empty cache from a file:// mirror
- time to ready: `ocr-worker serve` start until /readyz answers 200, from a warm cache, split into
  the model load and everything before it (interpreter, imports, start check)
- per-page latency and pages/s: an A4 page at 200 dpi (30 text lines)

Usage: python tests/bench/bench_worker.py [runs, >= 3]
"""

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.model_mirror import build_mirror  # noqa: E402
from tests.worker.docs import a4_page, encode  # noqa: E402


def env_for(cache: Path, mirror: Path) -> dict:
    return {**os.environ, "PADDLE_PDX_CACHE_HOME": str(cache), "OCR_MODEL_LOCK": str(mirror / "models.lock.json"),
            "OCR_MODEL_SOURCE": f"file://{mirror}"}


def cold_warm(mirror: Path, work: Path, i: int) -> float:
    cache = work / f"cold-{i}"
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "ocr_worker", "warm"], env=env_for(cache, mirror), check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def time_to_ready(cache: Path, mirror: Path) -> tuple[float, float]:
    """Seconds from process start to /readyz 200, and the part of it the model load took (the
    server's "ready" line); the rest is interpreter start, imports and the start check."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "ocr_worker", "serve", "--host", "127.0.0.1", "--port", "0"],
                            env=env_for(cache, mirror), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        port = None
        while port is None:
            line = proc.stdout.readline()
            port = json.loads(line).get("port") if line.startswith("{") else None
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5):
                    ready = time.perf_counter() - start
                    break
            except OSError:
                time.sleep(0.05)
        while True:
            line = proc.stdout.readline()
            if line.startswith("{") and "load_seconds" in (entry := json.loads(line)):
                return ready, entry["load_seconds"]
    finally:
        proc.terminate()
        proc.wait()


def main() -> None:
    runs = max(3, int(sys.argv[1]) if len(sys.argv) > 1 else 3)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        mirror = work / "mirror"
        build_mirror(mirror)
        colds = [cold_warm(mirror, work, i) for i in range(runs)]
        readies = [time_to_ready(work / "cold-0", mirror) for _ in range(runs)]

        from ocr_worker.cache import ModelCache
        from ocr_worker.engine import OcrEngine
        from ocr_worker.models import ModelLock

        engine = OcrEngine(ModelCache(work / "cold-0", ModelLock.load(mirror / "models.lock.json")))
        page = encode(a4_page(), "PNG")
        engine.ocr_document(page)  # first call initialises kernels
        pages = []
        for _ in range(runs):
            result = engine.ocr_document(page)
            pages.append(result["pages"][0]["seconds"])
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"cold warm from a file:// mirror: median {statistics.median(colds):.2f} s over {runs} runs")
    total, load = statistics.median(r for r, _ in readies), statistics.median(l for _, l in readies)
    print(f"time to ready from a warm cache:  median {total:.2f} s over {runs} runs: model load {load:.2f} s, "
          f"start, imports and start check {total - load:.2f} s")
    latency = statistics.median(pages)
    print(f"A4 page at 200 dpi, {len(result['pages'][0]['lines'])} lines: median {latency:.2f} s/page, "
          f"{1 / latency:.2f} pages/s over {runs} runs")


if __name__ == "__main__":
    main()
