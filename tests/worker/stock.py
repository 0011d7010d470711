"""Stock ``paddleocr.PaddleOCR``, as its users build it, on the models of a warm cache: what the
worker is compared against for text (tests/worker/test_parity.py) and speed (tests/bench/bench_ocr.py)."""

from __future__ import annotations


def stock_paddleocr(cache, **options):
    """The detector and recognizer of ``cache``'s lock, from their published folders; ``options``
    are PaddleOCR's own (``cpu_threads=2``, ...)."""
    from paddleocr import PaddleOCR

    roles = cache.lock.by_role()
    det, rec = roles["text_detection"], roles["text_recognition"]
    return PaddleOCR(text_detection_model_name=det.name, text_detection_model_dir=str(cache.model_dir(det)),
                     text_recognition_model_name=rec.name, text_recognition_model_dir=str(cache.model_dir(rec)),
                     use_doc_orientation_classify=False, use_doc_unwarping=False, use_textline_orientation=False,
                     device="cpu", **options)
