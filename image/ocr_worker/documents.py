"""Turn document bytes (PNG, JPEG, TIFF, PDF) into page images, one at a time, within limits.

Every way a document can be bad is a :class:`DocumentError`: the decoders' own exceptions never
escape (tests/worker/test_fuzz.py feeds thousands of mutated real files through :func:`pages`).
A page that cannot be decoded after good ones is yielded as a :class:`PageError`, so the good
pages are kept and the bad one is reported in the result.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import Iterator, Union

import numpy as np

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
#: Pages of a PDF, or frames of a TIFF, in one document (the default of OCR_MAX_PAGES).
MAX_PAGES = 200


class DocumentError(ValueError):
    """The document itself is bad: the user gets this message, the worker goes on."""


@dataclass
class PageError:
    """Page ``number`` (1-based) could not be decoded; the pages before it were."""

    number: int
    error: str


Page = Union[np.ndarray, PageError]


def kind_of(data: bytes) -> str:
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


def pages(data: bytes, max_pages: int = MAX_PAGES, downscale_pixels: int = DOWNSCALE_PIXELS,
          pdf_dpi: int = PDF_DPI) -> Iterator[Page]:
    """Yield RGB pages (EXIF orientation applied) of at most ``downscale_pixels``, or a PageError
    for a page that fails after the first; only one decoded page is held at a time. Raises
    DocumentError when the document as a whole is bad: unreadable, encrypted, over a limit."""
    kind = kind_of(data)
    if kind == "pdf":
        yield from _pdf_pages(data, max_pages, downscale_pixels, pdf_dpi)
    else:
        for page in _image_pages(data, kind, max_pages):
            yield page if isinstance(page, PageError) else _fit(page, downscale_pixels)


def _fit(page: np.ndarray, max_pixels: int) -> np.ndarray:
    """The page, downscaled (area averaging, as for print) to at most ``max_pixels``."""
    height, width = page.shape[:2]
    if height * width <= max_pixels:
        return page
    import cv2

    scale = (max_pixels / (height * width)) ** 0.5
    size = (max(1, math.floor(width * scale)), max(1, math.floor(height * scale)))
    return cv2.resize(page, size, interpolation=cv2.INTER_AREA)


def _image_pages(data: bytes, kind: str, max_pages: int) -> Iterator[Page]:
    from PIL import Image, ImageOps

    try:
        image = Image.open(io.BytesIO(data))  # reads the header only: size and frames
        frames = getattr(image, "n_frames", 1)
    except Exception as e:  # PIL raises many types on malformed headers
        raise DocumentError(f"unreadable image: {_why(e)}") from None
    if frames > max_pages:
        raise DocumentError(f"image has {frames} frames; the limit is {max_pages} (OCR_MAX_PAGES)")
    if frames == 1 and kind in ("jpeg", "png"):
        _check_pixels(1, *image.size)
        yield _decode_like_paddlex(data)
        return
    for index in range(frames):
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
            return  # a broken frame ends what a TIFF reader can reach
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


def _pdf_pages(data: bytes, max_pages: int, max_pixels: int, dpi: int) -> Iterator[Page]:
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(data)
    except Exception as e:
        message = _why(e)
        if "password" in message.lower():
            raise DocumentError("encrypted PDF: remove the password and resubmit") from None
        raise DocumentError(f"unreadable PDF: {message}") from None
    try:
        try:  # filled-in form fields are drawn, as PaddleX's own PDF reader draws them
            pdf.init_forms()
        except pdfium.PdfiumError:  # a form layer PDFium cannot set up: the pages render without it
            pass
        count = len(pdf)
        if count == 0:
            raise DocumentError("PDF has no pages")
        if count > max_pages:
            raise DocumentError(f"PDF has {count} pages; the limit is {max_pages} (OCR_MAX_PAGES)")
        for index in range(count):
            try:
                page = _render(pdf, index, max_pixels, dpi)
            except Exception as e:
                error = f"page {index + 1}: {_why(e)}"
                if count == 1:
                    raise DocumentError(f"unreadable PDF: {error}") from None
                yield PageError(index + 1, f"unreadable PDF {error}")
                continue
            yield page
    finally:
        pdf.close()


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


def page_count(data: bytes) -> int:
    """How many pages ``pages(data)`` yields, without rendering any (1 if it cannot tell)."""
    kind = kind_of(data)
    try:
        if kind == "pdf":
            import pypdfium2 as pdfium

            pdf = pdfium.PdfDocument(data)
            try:
                return max(1, len(pdf))
            finally:
                pdf.close()
        from PIL import Image

        with Image.open(io.BytesIO(data)) as image:
            return max(1, getattr(image, "n_frames", 1))
    except Exception:  # an unreadable document fails in pages() with its own message
        return 1
