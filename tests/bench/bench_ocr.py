#!/usr/bin/env python
"""OCR speed and accuracy on real documents with known text, per setting, timed alternately.

Pages: six prose pages of two Spanish manuals from Debian (born-digital PDFs: the text layer is the
known text) and ocrmypdf's linn.png scan with its linn.txt. Each setting reads every page once per
run, the settings taking turns page by page so a busy machine slows them alike. Stock
``paddleocr.PaddleOCR`` reads the same files from disk, as its users call it.

Reported per setting: pages/s on one engine, per-page latency (min/median/max), and the character
error rate (edit distance over the known text's length, whitespace collapsed), with the speed
ratio against the worker's default and against stock.

Usage: python tests/bench/bench_ocr.py [runs, >= 1]
"""

from __future__ import annotations

import io
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import unicodedata
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.model_mirror import build_mirror  # noqa: E402
from tests.worker.corpus import manual, resources  # noqa: E402
from tests.worker.stock import stock_paddleocr  # noqa: E402

#: (manual, 1-based page): prose pages with 1,900-4,600 characters each.
PAGES = [("eyes17.es.pdf", 3), ("eyes17.es.pdf", 7), ("eyes17.es.pdf", 13),
         ("maint-guide.es.pdf", 9), ("maint-guide.es.pdf", 13), ("maint-guide.es.pdf", 17)]
#: label -> (OCR_BACKEND, OCR_PDF_DPI); the first is the worker's default.
SETTINGS = {"paddle, 200 dpi (default)": ("paddle", 200), "paddle, 144 dpi": ("paddle", 144),
            "paddle, 300 dpi": ("paddle", 300), "onnxruntime, 200 dpi": ("onnxruntime", 200),
            "onnxruntime, 144 dpi": ("onnxruntime", 144)}
STOCK = "stock PaddleOCR (144 dpi)"
#: Stock PaddleOCR with one of its speed settings changed: the frontier the worker could adopt.
STOCK_VARIANTS = {STOCK: {}, "stock, cpu_threads=2": {"cpu_threads": 2},
                  "stock, recognition batch 8": {"text_recognition_batch_size": 8}}


def normalized(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split())


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance, one numpy row per character of ``a``."""
    if not b:
        return len(a)
    codes = np.array([ord(c) for c in b], dtype=np.int64)
    columns = np.arange(len(b) + 1)
    row = columns.copy()
    for i, char in enumerate(a, 1):
        step = np.empty_like(row)
        step[0] = i
        step[1:] = np.minimum(row[1:] + 1, row[:-1] + (codes != ord(char)))
        row = np.minimum.accumulate(step - columns) + columns  # insertions, left to right
    return int(row[-1])


def one_page_pdf(path: Path, number: int) -> bytes:
    import pypdfium2 as pdfium

    source, out = pdfium.PdfDocument(str(path)), pdfium.PdfDocument.new()
    out.import_pages(source, [number - 1])
    buffer = io.BytesIO()
    out.save(buffer)
    return buffer.getvalue()


def known_text(path: Path, number: int) -> str:
    import pypdfium2 as pdfium

    return pdfium.PdfDocument(str(path))[number - 1].get_textpage().get_text_range()


def documents(work: Path) -> list[tuple[str, Path, str]]:
    """(label, file, known text) for every benchmark page."""
    out = []
    for name, number in PAGES:
        file = work / f"{Path(name).stem}-p{number}.pdf"
        file.write_bytes(one_page_pdf(manual(name), number))
        out.append((f"{name} p{number}", file, known_text(manual(name), number)))
    out.append(("linn.png", resources() / "linn.png", (resources() / "linn.txt").read_text()))
    return out


def main() -> None:
    runs = max(1, int(sys.argv[1]) if len(sys.argv) > 1 else 1)
    from ocr_worker.cache import ModelCache
    from ocr_worker.engine import OcrEngine, text_of
    from ocr_worker.models import ModelLock

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        build_mirror(work / "mirror")
        lock = work / "mirror/models.lock.json"
        backends = {backend for backend, _ in SETTINGS.values()}
        for backend in backends:
            subprocess.run([sys.executable, "-m", "ocr_worker", "warm"], check=True, stdout=subprocess.DEVNULL,
                           env={**os.environ, "PADDLE_PDX_CACHE_HOME": str(work / "cache"), "OCR_MODEL_LOCK": str(lock),
                                "OCR_MODEL_SOURCE": f"file://{work / 'mirror'}", "OCR_BACKEND": backend})
        engines = {backend: OcrEngine(ModelCache(work / "cache", ModelLock.load(lock), backend=backend))
                   for backend in backends}
        cache = ModelCache(work / "cache", ModelLock.load(lock))
        stock = {label: stock_paddleocr(cache, **options) for label, options in STOCK_VARIANTS.items()}
        pages = documents(work)
        labels = [*SETTINGS, *STOCK_VARIANTS]

        def read(label: str, file: Path) -> str:
            if label in stock:
                return " ".join(text for result in stock[label].predict(str(file)) for text in result["rec_texts"])
            backend, engines[backend].pdf_dpi = SETTINGS[label][0], SETTINGS[label][1]
            return " ".join(text_of(engines[backend].ocr_document(file.read_bytes())))

        for label in labels:  # the first call initialises kernels
            read(label, pages[0][1])
        seconds = {label: [] for label in labels}
        errors = {label: [0, 0] for label in labels}
        for run in range(runs):
            for index, (_, file, truth) in enumerate(pages):
                turn = index + run
                for label in labels[turn % len(labels):] + labels[:turn % len(labels)]:
                    start = time.perf_counter()
                    text = read(label, file)
                    seconds[label].append(time.perf_counter() - start)
                    if run == 0:
                        errors[label][0] += edit_distance(normalized(text), normalized(truth))
                        errors[label][1] += len(normalized(truth))

    default, rate = labels[0], {label: len(seconds[label]) / sum(seconds[label]) for label in labels}
    print(f"{len(pages)} pages x {runs} runs; {platform.machine()}, {os.cpu_count()} cpus, "
          f"Python {platform.python_version()}; medians in seconds")
    print(f"{'setting':28s} {'pages/s':>8s} {'min':>6s} {'median':>7s} {'max':>6s} {'CER':>6s} "
          f"{'vs default':>10s} {'vs stock':>9s}")
    for label in labels:
        s = seconds[label]
        print(f"{label:28s} {rate[label]:8.3f} {min(s):6.2f} {statistics.median(s):7.2f} {max(s):6.2f} "
              f"{errors[label][0] / errors[label][1]:6.2%} {rate[label] / rate[default]:9.2f}x "
              f"{rate[label] / rate[STOCK]:8.2f}x")


if __name__ == "__main__":
    main()
