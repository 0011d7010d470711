"""PaddleOCR built from the verified cache only: explicit model folders, no source check, no network."""

from __future__ import annotations

import os
import tempfile
import time
from typing import Any, Callable, Iterable, Optional, Protocol

import numpy as np

from ocr_worker import cpus
from ocr_worker.cache import ModelCache
from ocr_worker.documents import DOWNSCALE_PIXELS, MAX_PAGES, PDF_DPI, Document, PageError, Source
from ocr_worker.exits import ModelsNotReady

#: PaddleOCR's keyword prefix (``<prefix>_model_name``, ``<prefix>_model_dir``) for each role of a lock.
ARGUMENTS = {"doc_orientation": "doc_orientation_classify", "doc_unwarping": "doc_unwarping",
             "text_detection": "text_detection", "textline_orientation": "textline_orientation",
             "text_recognition": "text_recognition"}


_paddlex_home: str | None = None


def configure_paddlex() -> None:
    """Once per process, before PaddleX is first imported (it reads these at import time).

    PaddleX probes its model hosts on start even when every model is present: turned off. And it
    writes temp files, locks and caches under its cache home as soon as it is imported, but the
    worker mounts the shared cache read-only and passes every model as an explicit folder: give
    PaddleX a private, writable home instead (on the task's scratch volume)."""
    global _paddlex_home
    if _paddlex_home is None:
        os.environ["PADDLE_PDX_DISABLE_MODEL_SOURCE_CHECK"] = "True"
        _paddlex_home = os.environ["PADDLE_PDX_CACHE_HOME"] = tempfile.mkdtemp(prefix="paddlex-home-")


#: Called after each page with (pages done, pages to read: the document or its part); it may raise to stop.
OnPage = Callable[[int, int], None]


class DocumentReader(Protocol):
    """What the queue worker needs: an engine, or the InferenceThread that owns one."""

    def ocr_document(self, source: Source, on_page: Optional[OnPage] = None,
                     pages: Optional[tuple[int, int]] = None) -> dict: ...


class Engine(DocumentReader, Protocol):
    """What the server also needs: ``OcrEngine``, or a fake in tests."""

    model_names: list[str]
    cpu_threads: int
    load_seconds: float


class OcrEngine:
    def __init__(self, cache: ModelCache, max_pages: int = MAX_PAGES, downscale_pixels: int = DOWNSCALE_PIXELS,
                 pdf_dpi: int = PDF_DPI, cpu_threads: int | None = None, options: dict | None = None) -> None:
        """``cpu_threads``: inference threads; None or 0: one per CPU this process may use
        (:mod:`ocr_worker.cpus`; PaddleOCR's own default is 10, more than a Fargate task has).
        ``options``: PaddleOCR's own keyword options on top (``text_recognition_batch_size``, ...),
        as the benchmark sweeps them."""
        self.max_pages, self.downscale_pixels, self.pdf_dpi = max_pages, downscale_pixels, pdf_dpi
        # Deep: every file against its manifest sha256, so a same-size corruption (a flipped
        # byte) is refused here instead of OCRing garbage. It reads what the load reads next.
        not_ready = [s for s in cache.states(deep=True) if s.state != "ready"]
        if not_ready:
            raise ModelsNotReady("models not ready in the cache: " +
                                 ", ".join(f"{s.name} ({s.state})" for s in not_ready) + "; run `warm` first")
        configure_paddlex()
        from paddleocr import PaddleOCR

        roles = cache.lock.by_role()
        kwargs: dict[str, Any] = {}
        for role, spec in roles.items():
            kwargs[f"{ARGUMENTS[role]}_model_name"] = spec.name
            kwargs[f"{ARGUMENTS[role]}_model_dir"] = str(cache.engine_dir(spec))
        self.cpu_threads = threads = cpu_threads or cpus.available()
        self.backend = cache.backend
        if cache.backend == "onnxruntime":  # ONNX models, or the conversions `warm` published
            kwargs.update(engine="onnxruntime", engine_config={"intra_op_num_threads": threads})
        else:
            kwargs["cpu_threads"] = threads
        kwargs.update(options or {})
        start = time.perf_counter()
        self.pipeline = PaddleOCR(
            **kwargs,
            # Set explicitly: use_doc_unwarping defaults to True and silently adds UVDoc.
            use_doc_orientation_classify="doc_orientation" in roles,
            use_doc_unwarping="doc_unwarping" in roles,
            use_textline_orientation="textline_orientation" in roles,
            device="cpu",
        )
        self.load_seconds = time.perf_counter() - start
        self.model_names = [m.name for m in cache.lock.models]

    def ocr_page(self, image: np.ndarray) -> list[dict]:
        """OCR one RGB page. PaddleX's pipelines take arrays in OpenCV's BGR order (what its own
        image reader returns), so the channels are reversed first."""
        result = self.pipeline.predict(np.ascontiguousarray(image[:, :, ::-1]))[0]
        return [{"text": text, "score": round(float(score), 4), "box": np.asarray(poly).astype(int).tolist()}
                for text, score, poly in zip(result["rec_texts"], result["rec_scores"], result["rec_polys"],
                                             strict=True)]

    def ocr_document(self, source: Source, on_page: Optional[OnPage] = None,
                     pages: Optional[tuple[int, int]] = None) -> dict:
        """OCR page by page (bounded memory), the document opened once; ``on_page`` runs after each
        page. A page that cannot be decoded gets ``"error"`` and no lines; the others are still read.
        ``pages``: only pages ``first`` to ``last``, numbered as in the whole document."""
        out, start = [], time.perf_counter()
        with Document(source, self.max_pages, self.downscale_pixels, self.pdf_dpi, pages) as document:
            for done, image in enumerate(document, 1):
                page_start = time.perf_counter()
                if isinstance(image, PageError):  # the pages before it are kept
                    out.append({"page": image.number, "lines": [], "error": image.error})
                else:
                    out.append({"page": document.first + done - 1, "lines": self.ocr_page(image),
                                "seconds": round(time.perf_counter() - page_start, 3)})
                del image  # free this page before the next one is decoded
                if on_page:
                    on_page(done, len(document))
        return {"pages": out, "models": self.model_names, "seconds": round(time.perf_counter() - start, 3)}


def text_of(result: dict) -> Iterable[str]:
    for page in result["pages"]:
        for line in page["lines"]:
            yield line["text"]
