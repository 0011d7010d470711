#!/usr/bin/env python
"""What the deployment reads per second, against stock PaddleOCR, alternating in one run.

Contenders, each in a process of its own, all warm from the same real weights (tests/model_mirror.py):

- stock PaddleOCR on PP-OCRv5 mobile det + rec on Paddle Inference: how teams run it today
  (the file path to ``predict``, PaddleOCR's own defaults);
- stock PaddleOCR on the default tier's models (PP-OCRv6 tiny and the document orientation
  classifier, ONNX Runtime): the same models without this project;
- ``ocr-worker serve`` with its defaults (the tiny tier), each page POSTed to /ocr as a client does;
- the same at ``OCR_PDF_DPI=144``, the resolution stock PaddleOCR renders PDFs at: what serving
  itself costs over stock on the same models and pixels;
- ``ocr-worker serve`` with ``OCR_MODEL_TIER=small``.

Pages: six prose pages of two Spanish manuals from Debian (born-digital PDFs: the text layer is
the known text) and ocrmypdf's linn.png scan with its linn.txt (tests/bench/bench_ocr.py). Every
contender reads a page before the next page is read, in an order that rotates page by page, so a
busy machine slows them alike. Reported: pages/s, median latency, CER, word recall (the known
text's words found, counted with multiplicity), peak RSS, and the speed ratio to today.

Usage: python tests/bench/bench_serve.py [runs, >= 1]
"""

from __future__ import annotations

import collections
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.bench.bench_ocr import Runner, Setting, alternate, documents, edit_distance, normalized  # noqa: E402
from tests.model_mirror import build_mirror  # noqa: E402

TODAY = "stock PaddleOCR, PP-OCRv5 mobile, Paddle"


def words(text: str) -> collections.Counter:
    return collections.Counter(re.findall(r"\w+", normalized(text).lower()))


def word_recall(text: str, truth: str) -> tuple[int, int]:
    found, known = words(text), words(truth)
    return sum(min(n, found[w]) for w, n in known.items()), sum(known.values())


class Server:
    """``ocr-worker serve`` on a free port; ``read`` POSTs a file and returns (seconds, text)."""

    def __init__(self, env: dict) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "ocr_worker", "serve", "--host", "127.0.0.1", "--port", "0"],
                                     env={**os.environ, **env, "PYTHONPATH": str(ROOT / "image")},
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.procs = [self.proc]
        port = None
        while port is None:
            line = self.proc.stdout.readline()
            if not line:
                raise SystemExit(f"serve exited with {self.proc.wait()}")
            port = json.loads(line).get("port") if line.startswith("{") else None
        self.url = f"http://127.0.0.1:{port}"
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/readyz", timeout=5):
                    break
            except OSError:
                time.sleep(0.1)

    def read(self, file: Path) -> tuple[float, str]:
        start = time.perf_counter()
        request = urllib.request.Request(f"{self.url}/ocr", data=file.read_bytes(), method="POST")
        with urllib.request.urlopen(request, timeout=600) as response:
            result = json.load(response)
        return time.perf_counter() - start, " ".join(line["text"] for page in result["pages"] for line in page["lines"])

    def close(self) -> float:
        """Stop the server; its peak resident memory, MiB (the kernel's high-water mark)."""
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        peak = int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024
        self.proc.terminate()
        self.proc.wait(timeout=60)
        return peak


def warm(mirror: Path, cache: Path) -> dict:
    env = {"PADDLE_PDX_CACHE_HOME": str(cache), "OCR_MODEL_LOCK": str(mirror / "models.lock.json"),
           "OCR_MODEL_SOURCE": f"file://{mirror}"}
    subprocess.run([sys.executable, "-m", "ocr_worker", "warm"], check=True, stdout=subprocess.DEVNULL,
                   env={**os.environ, **env, "PYTHONPATH": str(ROOT / "image")})
    return env


def main() -> None:
    runs = max(1, int(sys.argv[1]) if len(sys.argv) > 1 else 1)
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        envs = {name: warm(build_mirror(work / name, name).parent, work / f"cache-{name}")
                for name in ("v5-paddle", "tiny", "small")}
        pages = documents(work)
        contenders = {
            TODAY: lambda: Runner(Setting(backend=None, stock=True), envs["v5-paddle"]),
            "stock PaddleOCR, tiny tier models, ONNX": lambda: Runner(Setting(backend=None, stock=True), envs["tiny"]),
            "ocr-worker serve, defaults (tiny tier)": lambda: Server(envs["tiny"]),
            "ocr-worker serve, tiny, 144 dpi (stock's)": lambda: Server({**envs["tiny"], "OCR_PDF_DPI": "144"}),
            "ocr-worker serve, small tier": lambda: Server(envs["small"]),
        }
        runners = {label: start() for label, start in contenders.items()}
        walls = {label: [] for label in runners}
        scores = {label: [0, 0, 0, 0] for label in runners}  # edits, characters, words found, words
        for run, label, wall, text, truth in alternate(runners, pages, runs):
            walls[label].append(wall)
            if run == 0:
                found, known = word_recall(text, truth)
                for i, n in enumerate((edit_distance(normalized(text), normalized(truth)), len(normalized(truth)),
                                       found, known)):
                    scores[label][i] += n
        for label in runners:
            edits, chars, found, known = scores[label]
            rows[label] = (len(walls[label]) / sum(walls[label]), statistics.median(walls[label]), edits / chars,
                           found / known, runners[label].close())
    today = rows[TODAY][0]
    print(f"{len(pages)} pages x {runs} runs, alternating; {platform.machine()}, {os.cpu_count()} cpus, "
          f"Python {platform.python_version()}")
    print(f"{'contender':42s} {'pages/s':>8s} {'median s':>9s} {'CER':>6s} {'recall':>7s} {'peak MiB':>9s} "
          f"{'vs today':>9s}")
    for label, (rate, median, cer, recall, peak) in rows.items():
        print(f"{label:42s} {rate:8.3f} {median:9.2f} {cer:6.2%} {recall:7.3f} {peak:9.0f} {rate / today:8.2f}x")


if __name__ == "__main__":
    main()
