"""The worker reads what stock PaddleOCR reads, on real files: same models, same text.

Stock `paddleocr.PaddleOCR` is given each file's path, as its users do; the worker is given the
bytes, as the queue and `serve` give them. Colour (channel order), CMYK, grayscale, palette scans
and EXIF-rotated photos are where a document decoder and PaddleX's own reader can part ways.
"""

import io

import pytest
from ocr_worker.cache import ModelCache
from ocr_worker.documents import MAX_PAGE_PIXELS
from ocr_worker.engine import OcrEngine, text_of
from ocr_worker.models import ModelLock
from PIL import Image

from tests.worker.corpus import resources
from tests.worker.docs import INVOICE, text_image
from tests.worker.stock import stock_paddleocr

pytestmark = [pytest.mark.ocr, pytest.mark.slow]


@pytest.fixture(scope="module")
def models(warm_cache, mirror):
    cache = ModelCache(warm_cache, ModelLock.load(mirror / "models.lock.json"))
    return cache, OcrEngine(cache)


@pytest.fixture(scope="module")
def stock(models):
    cache, _ = models
    return stock_paddleocr(cache)


def exif_rotated_photo(tmp_path):
    """A 'phone photo': pixels stored sideways with EXIF Orientation 6, text upright when viewed."""
    stored = text_image(INVOICE).transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    out = io.BytesIO()
    stored.save(out, format="JPEG", exif=exif, quality=95)
    path = tmp_path / "photo.jpg"
    path.write_bytes(out.getvalue())
    return path


@pytest.mark.parametrize("name", ["baiona_color.jpg", "baiona_cmyk.jpg", "baiona_gray.png", "baiona_colormapped.png",
                                  "crom.png", "exif photo"])
def test_worker_reads_what_stock_paddleocr_reads(models, stock, tmp_path, name):
    path = exif_rotated_photo(tmp_path) if name == "exif photo" else resources() / name
    _, engine = models
    ours = list(text_of(engine.ocr_document(path.read_bytes())))
    theirs = list(stock.predict(str(path))[0]["rec_texts"])
    assert theirs, f"stock PaddleOCR reads nothing in {name}: not a useful parity case"
    assert ours == theirs
    if name == "exif photo":
        assert ours == [INVOICE]


@pytest.mark.parametrize("name", ["multipage.pdf", "francais.pdf"])
def test_a_pdf_at_stocks_resolution_reads_page_for_page_what_stock_reads(models, stock, name):
    """PaddleX renders PDFs at 144 dpi (zoom 2); at that OCR_PDF_DPI, and with no downscale, the
    worker's page-by-page path reads the same lines on every page. The defaults, 200 dpi and a
    10-megapixel cap, are chosen by measurement (README: PDF resolution, Memory bound): at the
    cap, the 9000x9000-pixel page 2 of multipage.pdf reads right side up where stock PaddleOCR,
    on 4320x4320 pixels, turns it upside down."""
    cache, _ = models
    path = resources() / name
    engine = OcrEngine(cache, pdf_dpi=144, downscale_pixels=MAX_PAGE_PIXELS)
    ours = [[line["text"] for line in page["lines"]] for page in engine.ocr_document(path.read_bytes())["pages"]]
    theirs = [list(result["rec_texts"]) for result in stock.predict(str(path))]
    assert len(theirs) > 1 or name == "francais.pdf"
    assert sum(map(len, theirs)) > 10 and ours == theirs
