"""Thousands of mutations of real documents through pages(): only DocumentError may escape.

Seeds are real third-party files (ocrmypdf's test resources) and the tests' own multi-frame TIFF
and two-page PDF; each mutation flips, deletes, duplicates or truncates bytes. The random seed is
fixed, so a failure names a mutation that reproduces.
"""

import io
import random
import time

import pytest
from ocr_worker.documents import DocumentError, PageError, pages

from tests.worker.corpus import resources
from tests.worker.docs import encode, text_image, two_page_pdf

pytestmark = [pytest.mark.fuzz, pytest.mark.slow]

MUTATIONS_PER_SEED = 400


def own_seeds() -> dict[str, bytes]:
    frames = [text_image("uno").convert("L"), text_image("dos").convert("L")]
    tiff = io.BytesIO()
    frames[0].save(tiff, format="TIFF", save_all=True, append_images=frames[1:])
    return {"two-frame.tiff": tiff.getvalue(), "two-page.pdf": two_page_pdf(),
            "small.png": encode(text_image("tres", (300, 80)), "PNG")}


def mutate(data: bytes, rng: random.Random) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op, at = rng.random(), rng.randrange(len(buf))
        if op < 0.5:
            for i in range(at, min(len(buf), at + rng.randint(1, 8))):
                buf[i] = rng.randrange(256)
        elif op < 0.7:
            del buf[at:at + rng.randint(1, 64)]
        elif op < 0.85:
            chunk = buf[at:at + rng.randint(1, 64)]
            buf[at:at] = chunk
        else:
            del buf[max(8, at):]
        if not buf:
            buf = bytearray(data[:8])
    return bytes(buf)


SEEDS = ["crom.png", "baiona_gray.png", "baiona_cmyk.jpg", "3small.pdf", "francais.pdf"]


@pytest.mark.parametrize("seed", SEEDS + ["two-frame.tiff", "two-page.pdf", "small.png"])
def test_only_document_errors_escape(seed):
    data = own_seeds()[seed] if seed in own_seeds() else (resources() / seed).read_bytes()
    rng = random.Random(f"{seed}-2026")
    outcomes = {"pages": 0, "page errors": 0, "document errors": 0}
    start = time.monotonic()
    for n in range(MUTATIONS_PER_SEED):
        mutated = mutate(data, rng)
        try:
            for page in pages(mutated, max_pages=20):
                outcomes["page errors" if isinstance(page, PageError) else "pages"] += 1
        except DocumentError:
            outcomes["document errors"] += 1
        except Exception as error:  # noqa: BLE001 - the point of the test
            pytest.fail(f"{seed} mutation {n}: {type(error).__name__}: {error}")
    print(f"{seed}: {MUTATIONS_PER_SEED} mutations in {time.monotonic() - start:.1f} s: {outcomes}")
    assert outcomes["document errors"] > 0  # the mutations do break documents
