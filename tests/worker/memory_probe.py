"""Run as a process of its own: load the engine on its inference thread, as the worker does, OCR
each document file given, and print one JSON line per document with the process's resident
memory as the document is returned (busy) and once the thread has fallen idle after it (and
trimmed the heap), and its peak so far.
Each file is read from its path, as the queue worker reads its local copy;
``<file>:<first>-<last>`` reads only those pages, one part of a long document.

    python -m tests.worker.memory_probe <cache> <lock> <file>[:<first>-<last>]...
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def rss_mb() -> float:
    return _status_mb("VmRSS")


def peak_mb() -> float:
    """This process's own peak RSS. Not getrusage's ru_maxrss: Linux carries that over exec from
    the process that forked this one (a pytest process holding engines of its own)."""
    return _status_mb("VmHWM")


def idle(engine) -> None:
    if not engine.trimmed.wait(timeout=300):
        raise RuntimeError("the inference thread did not fall idle")


def main(cache: str, lock: str, *files: str) -> None:
    from ocr_worker import settings
    from ocr_worker.cache import ModelCache
    from ocr_worker.engine import OcrEngine
    from ocr_worker.inference import InferenceThread
    from ocr_worker.models import ModelLock

    config = settings.load("serve")
    engine = InferenceThread(lambda: OcrEngine(ModelCache(Path(cache), ModelLock.load(Path(lock))),
                                               config.max_pages, config.downscale_pixels))
    engine.wait_loaded()
    idle(engine)
    print(json.dumps({"document": "(loaded)", "rss_mb": rss_mb(), "peak_mb": peak_mb()}), flush=True)
    for file in files:
        start = time.perf_counter()
        path, _, part = file.partition(":")
        pages = tuple(int(n) for n in part.split("-")) if part else None
        result = engine.ocr_document(path, pages=pages)
        seconds, busy_mb = round(time.perf_counter() - start, 1), rss_mb()
        idle(engine)
        print(json.dumps({"document": Path(file).name, "pages": len(result["pages"]),
                          "lines": sum(len(p["lines"]) for p in result["pages"]),
                          "errors": [p["error"] for p in result["pages"] if "error" in p],
                          "seconds": seconds, "busy_rss_mb": busy_mb,
                          "rss_mb": rss_mb(), "peak_mb": peak_mb()}), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
