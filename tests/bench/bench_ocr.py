#!/usr/bin/env python
"""OCR speed, memory and accuracy on real documents with known text, per setting, timed alternately.

Pages: six prose pages of two Spanish manuals from Debian (born-digital PDFs: the text layer is the
known text) and ocrmypdf's linn.png scan with its linn.txt.

Each setting runs in processes of its own (``processes`` of them share the machine, as two
single-threaded workers would), so threads and memory are its own. Settings come in groups, each
with TODAY (the worker before this sweep); within a group they take turns page by page, so a busy
machine slows them alike. Stock ``paddleocr.PaddleOCR`` reads the same files from disk, as its
users call it.

Reported per setting: pages/s per task (all its processes together), per-page latency
(min/median/max), peak resident memory (its processes together), and the character error rate
(edit distance over the known text's length, whitespace collapsed), with the speed ratio to TODAY.

This is the sweep behind the Paddle engine's settings (threads, dpi, batch sizes, paddle2onnx,
OpenVINO), on the Paddle-format PP-OCRv5 mobile test set (tests/model_mirror.py ``v5-paddle``), or,
with ``OCR_MODEL_LOCK`` and ``OCR_MODEL_SOURCE`` set as for ``ocr-worker warm``, that lock's
Paddle-format models. The deployed default against stock PaddleOCR: tests/bench/bench_serve.py.

Usage: python tests/bench/bench_ocr.py [runs, >= 1]
"""

from __future__ import annotations

import io
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import unicodedata
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.model_mirror import build_mirror  # noqa: E402
from tests.worker.corpus import manual, resources  # noqa: E402
from tests.worker.stock import stock_paddleocr  # noqa: E402

#: (manual, 1-based page): prose pages with 1,900-4,600 characters each.
PAGES = [("eyes17.es.pdf", 3), ("eyes17.es.pdf", 7), ("eyes17.es.pdf", 13),
         ("maint-guide.es.pdf", 9), ("maint-guide.es.pdf", 13), ("maint-guide.es.pdf", 17)]


@dataclass(frozen=True)
class Setting:
    """One way to read pages: the worker's engine with a backend, PDF dpi and PaddleOCR options
    (``cpu_threads``, ...), in ``processes`` engine processes sharing the machine, or stock PaddleOCR."""

    backend: Optional[str] = "paddle"  # None: the one the lock's formats call for
    dpi: int = 200
    options: dict = field(default_factory=dict)
    processes: int = 1
    stock: bool = False
    openvino: str = ""  # OpenVINO precision: run the ONNX conversions on OpenVINO instead


class OpenVinoSession:
    """What PaddleX's ONNX Runtime runner calls on its session, run by OpenVINO on the same file."""

    def __init__(self, path: Path, threads: int, precision: str) -> None:
        import openvino

        self.request = openvino.Core().compile_model(str(path), "CPU", {
            "INFERENCE_NUM_THREADS": threads, "INFERENCE_PRECISION_HINT": precision,
            "PERFORMANCE_HINT": "LATENCY"}).create_infer_request()

    def run(self, names, feeds):
        result = self.request.infer(feeds)
        return [np.array(result[name]) for name in names]


STOCK = "stock PaddleOCR (144 dpi, 10 threads)"
TODAY = "today: paddle, 200 dpi, 10 threads"
TODAYS = Setting(options={"cpu_threads": 10})
DEFAULT = "default: paddle, 200 dpi, threads = CPUs"
#: Groups of settings, each timed alternately with TODAY: the worker before this sweep, which
#: kept PaddleOCR's default of 10 CPU threads. A group's processes live at once, so it stays small.
#: Threads are one per CPU unless set (``cpu_threads``); PaddleOCR's recognition batch is 6.
GROUPS = {
    "backend and dpi": {
        DEFAULT: Setting(),
        "paddle, 144 dpi": Setting(dpi=144),
        "onnxruntime, 200 dpi": Setting("onnxruntime"),
        "onnxruntime, 144 dpi": Setting("onnxruntime", 144),
        STOCK: Setting(dpi=144, stock=True),
    },
    "threads, MKLDNN, processes": {
        DEFAULT: Setting(),
        "paddle, 1 thread": Setting(options={"cpu_threads": 1}),
        "paddle, MKLDNN off": Setting(options={"enable_mkldnn": False}),
        "paddle, 2 processes x 1 thread": Setting(options={"cpu_threads": 1}, processes=2),
    },
    "detection and recognition": {
        DEFAULT: Setting(),
        "paddle, detection max side 1280": Setting(options={"text_det_limit_type": "max",
                                                            "text_det_limit_side_len": 1280}),
        "paddle, detection max side 1600": Setting(options={"text_det_limit_type": "max",
                                                            "text_det_limit_side_len": 1600}),
        "paddle, recognition batch 1": Setting(options={"text_recognition_batch_size": 1}),
        "paddle, recognition batch 16": Setting(options={"text_recognition_batch_size": 16}),
    },
    "OpenVINO race": {
        "onnxruntime, 200 dpi": Setting("onnxruntime"),
        "OpenVINO f32": Setting("onnxruntime", openvino="f32"),
        "OpenVINO bf16 (AMX CPUs only)": Setting("onnxruntime", openvino="bf16"),
        "onnxruntime, 2 processes x 1 thread": Setting("onnxruntime", options={"engine_config": {
            "intra_op_num_threads": 1}}, processes=2),
    },
}


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


def child(setting: dict, cache: str, lock: str) -> None:
    """A process reading pages for one setting: a file path per stdin line, a JSON line back with
    the text; at end of input, this process's peak resident memory."""
    from ocr_worker import cpus
    from ocr_worker.cache import ModelCache
    from ocr_worker.engine import OcrEngine, text_of
    from ocr_worker.models import ModelLock
    from tests.worker.memory_probe import peak_mb

    answers = os.fdopen(os.dup(1), "w")  # the protocol's own stream: library prints go to stderr
    os.dup2(2, 1)
    setting = Setting(**setting)
    models = ModelCache(Path(cache), ModelLock.load(Path(lock)), backend=setting.backend)
    if setting.stock:
        stock = stock_paddleocr(models, **setting.options)

        def read(file: str) -> str:
            return " ".join(text for result in stock.predict(file) for text in result["rec_texts"])
    else:
        engine = OcrEngine(models, pdf_dpi=setting.dpi, options=setting.options)
        if setting.openvino:
            inner = engine.pipeline.paddlex_pipeline._pipeline
            for model in (inner.text_det_model, inner.text_rec_model):
                model.runner.session = OpenVinoSession(model.runner._get_model_path(), cpus.available(),
                                                       setting.openvino)

        def read(file: str) -> str:
            return " ".join(text_of(engine.ocr_document(Path(file).read_bytes())))
    print(json.dumps({"ready": True}), file=answers, flush=True)
    for line in sys.stdin:
        print(json.dumps({"text": read(line.strip())}), file=answers, flush=True)
    print(json.dumps({"peak_mib": peak_mb()}), file=answers, flush=True)


class Runner:
    """The processes of one setting. ``read`` gives each the same page at once and returns the
    wall time and the text (from the first)."""

    def __init__(self, setting: Setting, env: dict) -> None:
        argv = [sys.executable, __file__, "--child", json.dumps(asdict(setting)), env["PADDLE_PDX_CACHE_HOME"],
                env["OCR_MODEL_LOCK"]]
        self.procs = [subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                       env={**os.environ, **env, "PYTHONPATH": f"{ROOT / 'image'}:{ROOT}"})
                      for _ in range(setting.processes)]
        for proc in self.procs:
            self._answer(proc)

    @staticmethod
    def _answer(proc) -> dict:
        line = proc.stdout.readline()
        if not line:
            raise SystemExit(f"bench child {proc.args[3]} exited with {proc.wait()}")
        return json.loads(line)

    def read(self, file: Path) -> tuple[float, str]:
        start = time.perf_counter()
        for proc in self.procs:
            proc.stdin.write(f"{file}\n")
            proc.stdin.flush()
        answers = [self._answer(proc) for proc in self.procs]
        return time.perf_counter() - start, answers[0]["text"]

    def close(self) -> float:
        """Stop the processes; their peak resident memory together, MiB."""
        peaks = []
        for proc in self.procs:
            proc.stdin.close()
            peaks.append(self._answer(proc)["peak_mib"])
            proc.wait()
        return sum(peaks)


def alternate(runners: dict, pages: list, runs: int):
    """Every runner reads each page before the next page is read, in an order that rotates page
    by page and run by run, after a first page that initialises kernels: yields (run, label,
    seconds, text, known text)."""
    for runner in runners.values():
        runner.read(pages[0][1])
    labels = list(runners)
    for run in range(runs):
        for index, (_, file, truth) in enumerate(pages):
            turn = (index + run) % len(labels)
            for label in labels[turn:] + labels[:turn]:
                wall, text = runners[label].read(file)
                yield run, label, wall, text, truth


def main() -> None:
    runs = max(1, int(sys.argv[1]) if len(sys.argv) > 1 else 1)
    rows, today = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        env = {"PADDLE_PDX_CACHE_HOME": str(work / "cache"), "OCR_MODEL_LOCK": str(work / "mirror/models.lock.json"),
               "OCR_MODEL_SOURCE": f"file://{work / 'mirror'}"}
        if os.environ.get("OCR_MODEL_LOCK") and os.environ.get("OCR_MODEL_SOURCE"):  # e.g. the production lock
            env.update(OCR_MODEL_LOCK=os.environ["OCR_MODEL_LOCK"], OCR_MODEL_SOURCE=os.environ["OCR_MODEL_SOURCE"])
        else:
            build_mirror(work / "mirror", "v5-paddle")
        for backend in ("paddle", "onnxruntime"):
            subprocess.run([sys.executable, "-m", "ocr_worker", "warm"], check=True, stdout=subprocess.DEVNULL,
                           env={**os.environ, **env, "OCR_BACKEND": backend, "PYTHONPATH": str(ROOT / "image")})
        pages = documents(work)
        for group, settings in GROUPS.items():
            settings = {TODAY: TODAYS, **settings}
            runners = {label: Runner(setting, env) for label, setting in settings.items()}
            walls = {label: [] for label in runners}
            errors = {label: [0, 0] for label in runners}
            for run, label, wall, text, truth in alternate(runners, pages, runs):
                walls[label].append(wall)
                if run == 0:
                    errors[label][0] += edit_distance(normalized(text), normalized(truth))
                    errors[label][1] += len(normalized(truth))
            for label in runners:
                rate = len(walls[label]) * len(runners[label].procs) / sum(walls[label])
                rows[group, label] = (rate, walls[label], errors[label][0] / errors[label][1],
                                      runners[label].close())
            today[group] = rows[group, TODAY][0]

    # Stock reads in the first group; other groups reach it through their own TODAY.
    stock = next(rate / today[group] for (group, label), (rate, *_) in rows.items() if label == STOCK)
    print(f"{len(pages)} pages x {runs} runs; {platform.machine()}, {os.cpu_count()} cpus, "
          f"Python {platform.python_version()}; latency in seconds per page (per process)")
    print(f"{'setting':40s} {'pages/s':>8s} {'min':>6s} {'median':>7s} {'max':>6s} {'CER':>6s} "
          f"{'peak MiB':>8s} {'vs today':>9s} {'vs stock':>9s}")
    for group in GROUPS:
        print(f"-- {group}")
        for (in_group, label), (rate, walls, cer, peak) in rows.items():
            if in_group == group:
                print(f"{label:40s} {rate:8.3f} {min(walls):6.2f} {statistics.median(walls):7.2f} "
                      f"{max(walls):6.2f} {cer:6.2%} {peak:8.0f} {rate / today[group]:8.2f}x "
                      f"{rate / today[group] / stock:8.2f}x")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(json.loads(sys.argv[2]), sys.argv[3], sys.argv[4])
    else:
        main()
