"""Documents the tests render: known text, as PNG, JPEG, TIFF and a 2-page PDF."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

INVOICE = "Factura número 12345"
PAGE_TWO = "Segunda página 678"


def font(size: int) -> ImageFont.FreeTypeFont:
    """DejaVu Sans (Debian's fonts-dejavu-core, or the copy opencv ships): it has every Spanish glyph."""
    import cv2

    for path in (Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
                 Path(cv2.__file__).parent / "qt/fonts/DejaVuSans.ttf"):
        if path.exists():
            return ImageFont.truetype(str(path), size)
    raise FileNotFoundError("DejaVuSans.ttf not found: apt-get install fonts-dejavu-core")


def text_image(text: str, size=(1000, 300)) -> Image.Image:
    image = Image.new("RGB", size, "white")
    ImageDraw.Draw(image).text((40, size[1] // 3), text, fill="black", font=font(48))
    return image


def encode(image: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt)
    return out.getvalue()


def two_page_pdf() -> bytes:
    out = io.BytesIO()
    first, second = text_image(INVOICE, (1200, 400)), text_image(PAGE_TWO, (1200, 400))
    first.save(out, format="PDF", save_all=True, append_images=[second], resolution=150)
    return out.getvalue()


def a4_page(lines: int = 30) -> Image.Image:
    """An A4 page at 200 dpi, full of text lines: the benchmark's page."""
    image = Image.new("RGB", (1654, 2339), "white")
    draw, small = ImageDraw.Draw(image), font(36)
    for i in range(lines):
        draw.text((120, 120 + i * 70), f"Linea {i + 1}: Factura número {10000 + i} importe {i * 7} euros",
                  fill="black", font=small)
    return image


def encrypted_pdf() -> bytes:
    """A PDF whose trailer names a Standard security handler: readers ask for a password."""
    out = io.BytesIO()
    Image.new("RGB", (100, 100), "white").save(out, format="PDF")
    data = out.getvalue()
    encrypt = (b"99 0 obj\n<< /Filter /Standard /V 1 /R 2 /O <" + b"00" * 32 + b"> /U <" + b"11" * 32 +
               b"> /P -4 >>\nendobj\n")
    trailer = data.rindex(b"trailer")
    file_id = b"<0123456789abcdef0123456789abcdef>"
    return data[:trailer] + encrypt + data[trailer:].replace(
        b"<<", b"<< /Encrypt 99 0 R /ID [" + file_id + b" " + file_id + b"]", 1)


def pdf_of(texts) -> bytes:
    """A PDF with one text page per entry of ``texts``."""
    images = [text_image(text).convert("RGB") for text in texts]
    buffer = io.BytesIO()
    images[0].save(buffer, "PDF", save_all=True, append_images=images[1:])
    return buffer.getvalue()
