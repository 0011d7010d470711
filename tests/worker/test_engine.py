"""Real PaddleOCR inference from the verified cache, with no network: the default test set
(PP-OCRv6 tiny and the document orientation classifier, ONNX, on ONNX Runtime), and PP-OCRv5
mobile in Paddle format on Paddle Inference and converted."""

import shutil
import subprocess
import sys

import pytest
from ocr_worker import cpus
from ocr_worker.cache import ModelCache
from ocr_worker.documents import DocumentError, kind_of, pages
from ocr_worker.engine import OcrEngine, text_of
from ocr_worker.exits import ModelsNotReady
from ocr_worker.models import ModelLock

from tests.worker.docs import INVOICE, PAGE_TWO, a4_page, encode, text_image, two_page_pdf

pytestmark = [pytest.mark.ocr, pytest.mark.slow]


@pytest.fixture(scope="module")
def engine(warm_cache, mirror):
    return OcrEngine(ModelCache(warm_cache, ModelLock.load(mirror / "models.lock.json")))


@pytest.fixture(scope="module")
def paddle_engine(paddle_cache, paddle_mirror):
    return OcrEngine(ModelCache(paddle_cache, ModelLock.load(paddle_mirror / "models.lock.json")))


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "TIFF"])
def test_reads_the_exact_text_of_an_image(engine, fmt):
    result = engine.ocr_document(encode(text_image(INVOICE), fmt))
    assert list(text_of(result)) == [INVOICE]
    line = result["pages"][0]["lines"][0]
    assert line["score"] > 0.9 and len(line["box"]) == 4
    assert result["models"] == ["PP-LCNet_x1_0_doc_ori", "PP-OCRv6_tiny_det", "PP-OCRv6_tiny_rec"]


def test_the_default_engine_runs_onnx_models_on_onnx_runtime_without_paddle(engine, warm_cache, mirror):
    assert engine.backend == "onnxruntime"
    code = ("import sys, importlib.abc\n"
            "class Refuse(importlib.abc.MetaPathFinder):\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name.split('.')[0] in ('paddle', 'paddle2onnx'): raise ImportError('no ' + name)\n"
            "sys.meta_path.insert(0, Refuse())\n"
            "from pathlib import Path; from ocr_worker.cache import ModelCache; from ocr_worker.engine import OcrEngine\n"
            "from ocr_worker.models import ModelLock; from tests.worker.docs import INVOICE, encode, text_image\n"
            f"e = OcrEngine(ModelCache(Path({str(warm_cache)!r}), ModelLock.load(Path({str(mirror / 'models.lock.json')!r}))))\n"
            "print([line['text'] for line in e.ocr_document(encode(text_image(INVOICE), 'PNG'))['pages'][0]['lines']])\n"
            "print('paddle' in sys.modules)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-2:] == [repr([INVOICE]), "False"]


@pytest.mark.parametrize("angle", [90, 180, 270])
def test_the_document_orientation_classifier_turns_a_rotated_page_upright(engine, angle):
    rotated = text_image(INVOICE).rotate(angle, expand=True, fillcolor="white")
    assert list(text_of(engine.ocr_document(encode(rotated, "PNG")))) == [INVOICE]


def test_the_paddle_engine_reads_paddle_format_models(paddle_engine):
    assert paddle_engine.backend == "paddle"
    result = paddle_engine.ocr_document(encode(text_image(INVOICE), "PNG"))
    assert list(text_of(result)) == [INVOICE]
    assert result["models"] == ["PP-OCRv5_mobile_det", "PP-OCRv5_mobile_rec"]


def test_reads_a_two_page_pdf_page_by_page(engine):
    result = engine.ocr_document(two_page_pdf())
    assert [p["page"] for p in result["pages"]] == [1, 2]
    assert [[line["text"] for line in p["lines"]] for p in result["pages"]] == [[INVOICE], [PAGE_TWO]]


BAD_DOCUMENTS = {
    "empty": (b"", "empty document"),
    "not a document": (b"hello, world", "not a PNG, JPEG, TIFF or PDF"),
    "truncated png": (encode(text_image("x"), "PNG")[:200], "unreadable image"),
    "broken pdf": (b"%PDF-1.7\n garbage", "unreadable PDF"),
}


@pytest.mark.parametrize("data,message", BAD_DOCUMENTS.values(), ids=BAD_DOCUMENTS.keys())
def test_bad_documents_raise_a_clear_error(data, message):
    with pytest.raises(DocumentError, match=message):
        list(pages(data))


def test_size_limit():
    with pytest.raises(DocumentError, match="the limit is"):
        kind_of(b"%PDF-" + b"0" * (50 * 1024 * 1024))


def test_engine_refuses_a_cold_cache(tmp_path, mirror):
    with pytest.raises(ModelsNotReady, match="PP-OCRv6_tiny_det \\(missing\\)"):
        OcrEngine(ModelCache(tmp_path, ModelLock.load(mirror / "models.lock.json")))


def test_warm_start_makes_zero_network_calls(warm_cache, mirror, tmp_path):
    image = tmp_path / "invoice.png"
    image.write_bytes(encode(text_image(INVOICE), "PNG"))
    code = f"""
import socket, os
def refuse(*args, **kwargs):
    raise OSError("network call attempted: " + repr(args))
socket.socket.connect = refuse
socket.socket.connect_ex = refuse
socket.create_connection = refuse
socket.getaddrinfo = refuse
from pathlib import Path
from ocr_worker.cache import ModelCache
from ocr_worker.engine import OcrEngine, text_of
from ocr_worker.models import ModelLock
engine = OcrEngine(ModelCache(Path({str(warm_cache)!r}), ModelLock.load(Path({str(mirror / 'models.lock.json')!r}))))
print(list(text_of(engine.ocr_document(Path({str(image)!r}).read_bytes()))))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == repr([INVOICE])


def test_engine_runs_on_a_read_only_cache(warm_cache, mirror, tmp_path):
    """The worker container mounts the cache read-only: a real read-only bind mount here."""
    image = tmp_path / "invoice.png"
    image.write_bytes(encode(text_image(INVOICE), "PNG"))
    code = (f"from pathlib import Path; from ocr_worker.cache import ModelCache; "
            f"from ocr_worker.engine import OcrEngine, text_of; from ocr_worker.models import ModelLock; "
            f"e = OcrEngine(ModelCache(Path({str(warm_cache)!r}), ModelLock.load(Path({str(mirror / 'models.lock.json')!r})))); "
            f"print(list(text_of(e.ocr_document(Path({str(image)!r}).read_bytes()))))")
    script = (f"mount --bind {warm_cache} {warm_cache} && mount -o remount,ro,bind {warm_cache} && "
              f"exec {sys.executable} -c \"$0\"")
    result = subprocess.run(["unshare", "--mount", "sh", "-c", script, code], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == repr([INVOICE])


def test_engine_refuses_a_same_size_corruption(warm_cache, mirror, tmp_path):
    """One flipped byte in a weight file keeps its size: only the sha256 check sees it."""
    cache = tmp_path / "cache"
    shutil.copytree(warm_cache, cache, symlinks=True)
    weights = max((p for p in cache.rglob("inference.onnx")), key=lambda p: p.stat().st_size)
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ModelsNotReady, match=r"\(corrupt\)"):
        OcrEngine(ModelCache(cache, ModelLock.load(mirror / "models.lock.json")))


def test_a_paddle_format_lock_converted_by_warm_reads_what_paddle_inference_reads(paddle_engine, onnx_cache,
                                                                                  paddle_mirror):
    """Same models, converted by `warm`: the same lines on a dense A4 page and a two-page PDF."""
    onnx = OcrEngine(ModelCache(onnx_cache, ModelLock.load(paddle_mirror / "models.lock.json"),
                                backend="onnxruntime"))
    for document in (encode(a4_page(), "PNG"), two_page_pdf()):
        ours, theirs = onnx.ocr_document(document), paddle_engine.ocr_document(document)
        assert [[line["text"] for line in page["lines"]] for page in ours["pages"]] == \
               [[line["text"] for line in page["lines"]] for page in theirs["pages"]]
    assert len(list(text_of(onnx.ocr_document(encode(a4_page(), "PNG"))))) == 30


def test_the_onnxruntime_backend_refuses_a_missing_conversion(paddle_cache, paddle_mirror):
    with pytest.raises(ModelsNotReady, match=r"PP-OCRv5_mobile_det \(onnx\) \(missing\)"):
        OcrEngine(ModelCache(paddle_cache, ModelLock.load(paddle_mirror / "models.lock.json"), backend="onnxruntime"))


def runner_threads(engine) -> list:
    """The CPU threads each model's runner was built with (Paddle Inference or ONNX Runtime)."""
    inner = engine.pipeline.paddlex_pipeline._pipeline
    return [model.runner._config.get("cpu_threads", model.runner._config.get("intra_op_num_threads"))
            for model in (inner.text_det_model, inner.text_rec_model)]


def test_threads_are_one_per_cpu_the_process_may_use_unless_set(engine, paddle_engine, warm_cache, mirror):
    """PaddleOCR's own default is 10 threads, more than a Fargate task has: tests/bench/bench_ocr.py."""
    assert runner_threads(engine) == runner_threads(paddle_engine) == [cpus.available()] * 2
    onnx = OcrEngine(ModelCache(warm_cache, ModelLock.load(mirror / "models.lock.json")), cpu_threads=3)
    assert runner_threads(onnx) == [3, 3]
    code = (f"from pathlib import Path; from ocr_worker.cache import ModelCache; from ocr_worker.engine import "
            f"OcrEngine; from ocr_worker.models import ModelLock; from tests.worker.test_engine import runner_threads; "
            f"print(runner_threads(OcrEngine(ModelCache(Path({str(warm_cache)!r}), "
            f"ModelLock.load(Path({str(mirror / 'models.lock.json')!r}))))))")
    result = subprocess.run(["taskset", "-c", "0", sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "[1, 1]"
