"""Turn document bytes (PNG, JPEG, TIFF, PDF) into page images, one at a time."""

from __future__ import annotations

import io
from typing import Iterator

import numpy as np

MAX_BYTES = 50 * 1024 * 1024
PDF_DPI = 200
MAX_PAGE_PIXELS = 40_000_000  # an A4 page at 600 dpi; guards memory against decompression bombs


class DocumentError(ValueError):
    """The document itself is bad: the user gets this message, the worker goes on."""


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


def pages(data: bytes) -> Iterator[np.ndarray]:
    """Yield RGB pages; only one rendered page is held at a time."""
    kind = kind_of(data)
    if kind == "pdf":
        yield from _pdf_pages(data)
    else:
        yield from _image_pages(data)


def _image_pages(data: bytes) -> Iterator[np.ndarray]:
    from PIL import Image, ImageSequence, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = MAX_PAGE_PIXELS
    try:
        image = Image.open(io.BytesIO(data))
        for frame in ImageSequence.Iterator(image):
            yield np.array(frame.convert("RGB"))
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, SyntaxError) as e:
        raise DocumentError(f"unreadable image: {e}") from None


def _pdf_pages(data: bytes) -> Iterator[np.ndarray]:
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as e:
        message = str(e)
        if "password" in message.lower():
            raise DocumentError("encrypted PDF: remove the password and resubmit") from None
        raise DocumentError(f"unreadable PDF: {message}") from None
    try:
        if len(pdf) == 0:
            raise DocumentError("PDF has no pages")
        for index in range(len(pdf)):
            page = pdf[index]
            width, height = page.get_size()
            scale = PDF_DPI / 72
            if width * height * scale * scale > MAX_PAGE_PIXELS:
                scale = (MAX_PAGE_PIXELS / (width * height)) ** 0.5
            bitmap = page.render(scale=scale)
            yield np.array(bitmap.to_pil().convert("RGB"))
            bitmap.close()
            page.close()
    finally:
        pdf.close()


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
