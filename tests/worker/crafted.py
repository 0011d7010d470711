"""Small files that decode into the largest inputs the worker accepts: the memory bound's cases."""

from __future__ import annotations

import io
import math

from ocr_worker.documents import MAX_PAGE_PIXELS
from PIL import Image, ImageDraw

from tests.worker.docs import INVOICE, encode, font, text_image


def huge_mediabox_pdf(points: int = 14400) -> bytes:
    """A few hundred bytes: one page of 200 x 200 inches with a line of text."""
    content = b"BT /F1 600 Tf 300 %d Td (Factura 12345) Tj ET" % (points - 1200)
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] /Contents 4 0 R "
               b"/Resources << /Font << /F1 5 0 R >> >> >>" % (points, points),
               b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out, offsets = io.BytesIO(), []
    out.write(b"%PDF-1.4\n")
    for number, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    out.writelines(b"%010d 00000 n \n" % offset for offset in offsets)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def just_under_the_limit(mode: str) -> bytes:
    """A square PNG one row short of MAX_PAGE_PIXELS, in ``mode`` ("1" is 1 bit a pixel), with text."""
    side = math.isqrt(MAX_PAGE_PIXELS) - 1
    image = Image.new(mode, (side, side), 1 if mode == "1" else "white")
    draw, big = ImageDraw.Draw(image), font(160)
    for row in range(0, side - 400, side // 12):
        draw.text((200, 200 + row), INVOICE, fill=0 if mode == "1" else "black", font=big)
    return encode(image, "PNG")


#: Pages of the many-page cases: ten parts of the deployed 20 pages, more than the queue worker
#: reads at once. Pages are decoded one at a time, so memory does not grow with the count (a
#: page's result is a few KB); 3,000 (OCR_MAX_PAGES) would only make the test 15 times longer.
MANY_PAGES = 200


def many_pages_pdf(pages: int = MANY_PAGES) -> bytes:
    """``pages`` small pages, every tenth with a line of text."""
    images = [text_image(INVOICE if i % 10 == 0 else "", (600, 200)) for i in range(pages)]
    out = io.BytesIO()
    images[0].save(out, "PDF", save_all=True, append_images=images[1:], resolution=100)
    return out.getvalue()


def many_frames_tiff(frames: int = MANY_PAGES) -> bytes:
    images = [text_image(INVOICE if i % 10 == 0 else "", (600, 200)) for i in range(frames)]
    out = io.BytesIO()
    images[0].save(out, "TIFF", save_all=True, append_images=images[1:], compression="tiff_deflate")
    return out.getvalue()


CASES = {
    "huge-mediabox.pdf": huge_mediabox_pdf,
    "under-limit-1bit.png": lambda: just_under_the_limit("1"),
    "under-limit-rgb.png": lambda: just_under_the_limit("RGB"),
    "many-pages.pdf": many_pages_pdf,
    "many-frames.tif": many_frames_tiff,
}
