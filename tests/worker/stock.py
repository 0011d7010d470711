"""Stock ``paddleocr.PaddleOCR``, as its users build it, on the models of a warm cache: what the
worker is compared against for text (tests/worker/test_parity.py) and speed (tests/bench/bench_ocr.py)."""

from __future__ import annotations

from ocr_worker.engine import ARGUMENTS


def stock_paddleocr(cache, **options):
    """Every model of ``cache``'s lock from its published folder, each stage on exactly when the
    lock has its model, on ONNX Runtime for ONNX-format models; ``options`` are PaddleOCR's own
    (``cpu_threads=2``, ...)."""
    from paddleocr import PaddleOCR

    roles = cache.lock.by_role()
    kwargs = {}
    for role, spec in roles.items():
        kwargs[f"{ARGUMENTS[role]}_model_name"] = spec.name
        kwargs[f"{ARGUMENTS[role]}_model_dir"] = str(cache.model_dir(spec))
    if any(spec.format == "onnx" for spec in roles.values()):
        kwargs["engine"] = "onnxruntime"
    return PaddleOCR(**kwargs, use_doc_orientation_classify="doc_orientation" in roles,
                     use_doc_unwarping="doc_unwarping" in roles,
                     use_textline_orientation="textline_orientation" in roles, device="cpu", **options)
