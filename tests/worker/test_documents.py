"""pages(): real third-party documents and crafted hostile ones, decoded within the limits or
refused with a DocumentError; a bad page after good ones is reported and the good ones kept."""

import io

import numpy as np
import pytest
from ocr_worker.documents import DOWNSCALE_PIXELS, MAX_PAGE_PIXELS, DocumentError, PageError, pages
from PIL import Image

from tests.worker.corpus import resources
from tests.worker.docs import INVOICE, encode, pdf_of, text_image


@pytest.fixture(scope="module")
def corpus():
    return resources()


@pytest.mark.parametrize("name,count,shape", [
    ("baiona_color.jpg", 1, (682, 640, 3)),
    ("baiona_cmyk.jpg", 1, (682, 640, 3)),
    ("baiona_gray.png", 1, (682, 640, 3)),
    ("baiona_alpha.png", 1, (682, 640, 3)),
    ("linn.png", 1, (3300, 2550, 3)),
    ("3small.pdf", 3, None),
    ("multipage.pdf", 6, None),
], ids=lambda v: v if isinstance(v, str) else None)
def test_real_documents_decode_to_rgb_pages(corpus, name, count, shape):
    got = list(pages((corpus / name).read_bytes()))
    assert len(got) == count
    assert all(isinstance(p, np.ndarray) and p.ndim == 3 and p.shape[2] == 3 and p.dtype == np.uint8 for p in got)
    if shape:
        assert got[0].shape == shape


def test_exif_orientation_is_applied():
    # A phone photo: pixels stored sideways, EXIF Orientation 6 ("rotate 90 CW to view").
    upright = text_image(INVOICE)
    stored = upright.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    out = io.BytesIO()
    stored.save(out, format="JPEG", exif=exif, quality=95)
    [page] = pages(out.getvalue())
    assert page.shape[:2] == (upright.height, upright.width)


def test_an_image_over_the_pixel_limit_is_refused_before_decoding():
    # 8900 x 8900 one-bit pixels: a 20 KB PNG that would decode to 79 Mpx (237 MB as RGB).
    data = encode(Image.new("1", (8900, 8900), 1), "PNG")
    assert len(data) < 100_000
    with pytest.raises(DocumentError, match=r"page 1 is 8900x8900 pixels; the limit is 40,000,000 pixels"):
        list(pages(data))


def test_an_image_just_under_the_limit_is_read_and_downscaled_for_ocr():
    side = int(MAX_PAGE_PIXELS ** 0.5) - 1
    [page] = pages(encode(Image.new("1", (side, side), 1), "PNG"))
    assert page.shape[2] == 3 and DOWNSCALE_PIXELS * 0.999 < page.shape[0] * page.shape[1] <= DOWNSCALE_PIXELS
    assert abs(page.shape[0] - page.shape[1]) <= 1  # the aspect ratio is kept
    [full] = pages(encode(Image.new("1", (side, side), 1), "PNG"), downscale_pixels=MAX_PAGE_PIXELS)
    assert full.shape == (side, side, 3)


def test_a_normal_page_is_not_downscaled(corpus):
    # linn.png is a Letter page at 300 dpi (8.4 Mpx): under the budget, read at full resolution.
    [page] = pages((corpus / "linn.png").read_bytes())
    assert page.shape == (3300, 2550, 3)


def test_a_huge_mediabox_renders_within_the_pixel_budget(corpus):
    # hugemono.pdf: an 8400 x 8400 pt page (2.9 m square); 200 dpi would be 544 Mpx.
    [page] = pages((corpus / "hugemono.pdf").read_bytes())
    assert DOWNSCALE_PIXELS * 0.99 < page.shape[0] * page.shape[1] <= DOWNSCALE_PIXELS


def test_page_and_frame_limits():
    with pytest.raises(DocumentError, match=r"PDF has 3 pages; the limit is 2 \(OCR_MAX_PAGES\)"):
        list(pages(pdf_of(["a", "b", "c"]), max_pages=2))
    frames = [Image.new("L", (50, 50), 255) for _ in range(5)]
    out = io.BytesIO()
    frames[0].save(out, format="TIFF", save_all=True, append_images=frames[1:])
    with pytest.raises(DocumentError, match=r"image has 5 frames; the limit is 4"):
        list(pages(out.getvalue(), max_pages=4))


def test_a_bad_frame_after_good_ones_is_reported_and_the_good_ones_kept():
    frames = [text_image(INVOICE).convert("L"), text_image("second").convert("L")]
    out = io.BytesIO()
    frames[0].save(out, format="TIFF", save_all=True, append_images=frames[1:])
    data = out.getvalue()
    # Cut the file inside the second frame's strip data: the first frame stays whole.
    first_end = len(encode(frames[0], "TIFF"))
    got = list(pages(data[:first_end + (len(data) - first_end) // 3]))
    assert isinstance(got[0], np.ndarray)
    assert isinstance(got[-1], PageError) and got[-1].number == 2


@pytest.mark.parametrize("name,message", [
    ("invalid.pdf", "unreadable PDF: Failed to load document"),
], ids=["invalid pdf"])
def test_broken_real_documents_are_document_errors(corpus, name, message):
    with pytest.raises(DocumentError, match=message):
        list(pages((corpus / name).read_bytes()))
