"""Turn document bytes (PNG, JPEG, TIFF, PDF) into page images, one at a time, within limits.

Every way a document can be bad is a :class:`DocumentError`: the decoders' own exceptions never
escape (tests/worker/test_fuzz.py feeds thousands of mutated real files through :func:`pages`).
A page that cannot be decoded after good ones is yielded as a :class:`PageError`, so the good
pages are kept and the bad one is reported in the result.
"""

from __future__ import annotations

import io
import math
import os
from dataclasses import dataclass
from typing import Iterator, Optional, Union

import numpy as np

#: The largest document held in memory: a request body of `serve`. The queue worker reads from a
#: local copy on disk instead, up to its own limit (OCR_MAX_BYTES).
MAX_BYTES = 50 * 1024 * 1024
#: PDF render resolution (OCR_PDF_DPI). PaddleX renders at 144 (zoom 2); 200 reads small print
#: better (README: PDF resolution).
PDF_DPI = 200
#: Pixels in one decoded image: an A4 page at 600 dpi (35 Mpx) fits. Larger images are refused
#: before they are decoded.
MAX_PAGE_PIXELS = 40_000_000
#: Pages with more pixels are downscaled to this many before OCR (OCR_DOWNSCALE_PIXELS), and PDF
#: pages rendered at the resolution that fits: it bounds the detector's memory (README: Memory).
DOWNSCALE_PIXELS = 10_000_000
#: Pages of a PDF, or frames of a TIFF, in one document (the default of OCR_MAX_PAGES): what
#: Amazon Textract's asynchronous API takes. The queue worker reads a long one in parts.
MAX_PAGES = 3000
#: The queue worker's largest document (OCR_MAX_BYTES), Textract's asynchronous limit: 500 MB.
MAX_QUEUED_BYTES = 500 * 1024 * 1024
#: Pages of one part of a long document (OCR_PAGES_PER_PART): at the default tier's 1.4 s a
#: dense page (README: Performance), a part takes about 30 s, a quarter of Fargate's 120 s stop
#: timeout, so SIGTERM usually lets the part in progress finish.
PAGES_PER_PART = 20


class DocumentError(ValueError):
    """The document itself is bad: the user gets this message, the worker goes on."""


@dataclass
class PageError:
    """Page ``number`` (1-based) could not be decoded; the pages before it were."""

    number: int
    error: str


Page = Union[np.ndarray, PageError]
#: A document's bytes, or the path of a local copy (read as needed, never whole into memory).
Source = Union[bytes, str, os.PathLike]


def kind_of(data: bytes) -> str:
    """The document's format from its first bytes (a whole document in memory is also checked
    against MAX_BYTES)."""
    if not data:
        raise DocumentError("empty document")
    if len(data) > MAX_BYTES:
        raise DocumentError(f"document is {len(data)} bytes; the limit is {MAX_BYTES}")
    if data.startswith(b"%PDF-"):
        return "pdf"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    raise DocumentError("not a PNG, JPEG, TIFF or PDF document")


class Document:
    """A document opened once: its page count is known before any page is decoded, and iterating
    yields RGB pages (EXIF orientation applied) of at most ``downscale_pixels``, or a PageError for
    a page that fails after the first; only one decoded page is held at a time. Opening raises
    DocumentError when the document as a whole is bad: unreadable, encrypted, over a limit.

    ``source``: the bytes, or the path of a local copy, which PDFium and Pillow read as they need
    it. ``pages``: iterate only pages ``first`` to ``last`` (1-based, inclusive), one part of a
    long document."""

    def __init__(self, source: Source, max_pages: int = MAX_PAGES, downscale_pixels: int = DOWNSCALE_PIXELS,
                 pdf_dpi: int = PDF_DPI, pages: Optional[tuple[int, int]] = None) -> None:
        if isinstance(source, bytes):
            self.kind = kind_of(source)
        else:
            with open(source, "rb") as file:
                self.kind = kind_of(file.read(8))
        self.source = source
        self.downscale_pixels, self.pdf_dpi = downscale_pixels, pdf_dpi
        self._pdf = self._image = None
        if self.kind == "pdf":
            self._pdf = _open_pdf(source)
            self.page_count = len(self._pdf)
            if self.page_count == 0:
                self.close()
                raise DocumentError("PDF has no pages")
            what = "PDF has {} pages"
        else:
            self._image, self.page_count = _open_image(source)
            what = "image has {} frames"
        if self.page_count > max_pages:
            self.close()
            raise DocumentError(f"{what.format(self.page_count)}; the limit is {max_pages} (OCR_MAX_PAGES)")
        self.first, self.last = pages or (1, self.page_count)
        if not 1 <= self.first <= self.last <= self.page_count:
            self.close()
            raise DocumentError(f"pages {self.first}-{self.last} are not in a {self.page_count}-page document")

    def __enter__(self) -> "Document":
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    def close(self) -> None:
        if self._pdf is not None:
            self._pdf.close()
            self._pdf = None
        if self._image is not None:
            self._image.close()
            self._image = None

    def __len__(self) -> int:
        """The pages iterated: the whole document, or the part ``pages`` names."""
        return self.last - self.first + 1

    def __iter__(self) -> Iterator[Page]:
        indices = range(self.first - 1, self.last)
        if self._pdf is not None:
            yield from _pdf_pages(self._pdf, indices, self.downscale_pixels, self.pdf_dpi)
            return
        for page in _image_pages(self._image, self.source, self.kind, indices):
            yield page if isinstance(page, PageError) else _fit(page, self.downscale_pixels)


def pages(data: Source, max_pages: int = MAX_PAGES, downscale_pixels: int = DOWNSCALE_PIXELS,
          pdf_dpi: int = PDF_DPI) -> Iterator[Page]:
    """The pages of :class:`Document` ``data``, opened and closed around the iteration."""
    with Document(data, max_pages, downscale_pixels, pdf_dpi) as document:
        yield from document


def page_count(source: Source, max_pages: int = MAX_PAGES) -> int:
    """The pages of ``source``, opened and closed; DocumentError as :class:`Document` raises it."""
    with Document(source, max_pages) as document:
        return document.page_count


def _fit(page: np.ndarray, max_pixels: int) -> np.ndarray:
    """The page, downscaled (area averaging, as for print) to at most ``max_pixels``."""
    height, width = page.shape[:2]
    if height * width <= max_pixels:
        return page
    import cv2

    scale = (max_pixels / (height * width)) ** 0.5
    size = (max(1, math.floor(width * scale)), max(1, math.floor(height * scale)))
    return cv2.resize(page, size, interpolation=cv2.INTER_AREA)


def _open_image(source: Source):
    from PIL import Image

    try:
        # Reads the header only: size and frames.
        image = Image.open(io.BytesIO(source) if isinstance(source, bytes) else source)
        return image, getattr(image, "n_frames", 1)
    except Exception as e:  # PIL raises many types on malformed headers
        raise DocumentError(f"unreadable image: {_why(e)}") from None


def _image_pages(image, source: Source, kind: str, indices: range) -> Iterator[Page]:
    from PIL import ImageOps

    if getattr(image, "n_frames", 1) == 1 and kind in ("jpeg", "png"):
        _check_pixels(1, *image.size)
        if not isinstance(source, bytes):
            with open(source, "rb") as file:
                source = file.read()
        yield _decode_like_paddlex(source)
        return
    for index in indices:
        try:
            image.seek(index)
            _check_pixels(index + 1, *image.size)
            # Phone photos store their rotation as EXIF Orientation; readers (and PaddleOCR's
            # own cv2.imread) apply it.
            page = np.array(ImageOps.exif_transpose(image).convert("RGB"))
        except Exception as e:
            error = e if isinstance(e, DocumentError) else DocumentError(f"unreadable image: {_why(e)}")
            if index == 0:
                raise error from None
            yield PageError(index + 1, str(error))
            return  # a broken frame ends what a TIFF reader can reach (the rest of the part)
        yield page


def _check_pixels(number: int, width: int, height: int) -> None:
    if width * height > MAX_PAGE_PIXELS:
        raise DocumentError(f"page {number} is {width}x{height} pixels; the limit is {MAX_PAGE_PIXELS:,} pixels")


def _decode_like_paddlex(data: bytes) -> np.ndarray:
    """A JPEG or PNG decoded as PaddleX's own reader decodes a file (OpenCV, EXIF orientation
    applied, CMYK and palettes converted by libjpeg and libpng): the worker then reads exactly
    what stock PaddleOCR reads (tests/worker/test_parity.py)."""
    import cv2

    try:
        bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    except cv2.error as e:
        raise DocumentError(f"unreadable image: {_why(e)}") from None
    if bgr is None:
        raise DocumentError("unreadable image: the decoder could not read it")
    return np.ascontiguousarray(bgr[:, :, ::-1])


def _open_pdf(source: Source):
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(source if isinstance(source, bytes) else os.fspath(source))
    except Exception as e:
        message = _why(e)
        if "password" in message.lower():
            raise DocumentError("encrypted PDF: remove the password and resubmit") from None
        raise DocumentError(f"unreadable PDF: {message}") from None
    try:  # filled-in form fields are drawn, as PaddleX's own PDF reader draws them
        pdf.init_forms()
    except pdfium.PdfiumError:  # a form layer PDFium cannot set up: the pages render without it
        pass
    return pdf


def _pdf_pages(pdf, indices: range, max_pixels: int, dpi: int) -> Iterator[Page]:
    for index in indices:
        try:
            page = _render(pdf, index, max_pixels, dpi)
        except Exception as e:
            error = f"page {index + 1}: {_why(e)}"
            if len(pdf) == 1:
                raise DocumentError(f"unreadable PDF: {error}") from None
            yield PageError(index + 1, f"unreadable PDF {error}")
            continue
        yield page


def _render(pdf, index: int, max_pixels: int, dpi: int) -> np.ndarray:
    page = pdf[index]
    try:
        width, height = page.get_size()
        if not (width > 0 and height > 0):
            raise ValueError(f"page size {width}x{height}")
        # ``dpi`` unless that exceeds the pixel budget (a large or huge MediaBox): then as much as fits.
        scale = min(dpi / 72, (max_pixels / (width * height)) ** 0.5)
        while math.ceil(width * scale) * math.ceil(height * scale) > max_pixels:
            scale *= 0.999  # the renderer rounds the bitmap's sides up
        bitmap = page.render(scale=scale)
        try:
            return np.array(bitmap.to_pil().convert("RGB"))
        finally:
            bitmap.close()
    finally:
        page.close()


def _why(error: Exception) -> str:
    return str(error) or type(error).__name__
