"""Large PDFs for the long-document tests: one built from real pages of the Spanish manuals, cycled
(the dense prose pages the benchmark reads, or light ones), and one of a given size in bytes (unique random image
data on every page, so it cannot be compressed away)."""

from __future__ import annotations

import os
from pathlib import Path

from tests.worker import corpus

#: The benchmark's real pages (tests/bench/bench_serve.py): (manual, 0-based page index).
REAL_PAGES = [("eyes17.es.pdf", 2), ("maint-guide.es.pdf", 8), ("eyes17.es.pdf", 6),
              ("maint-guide.es.pdf", 12), ("eyes17.es.pdf", 12), ("maint-guide.es.pdf", 16)]
#: Real pages with 7 to 26 lines of text (the dense ones have 30 to 90): the 600-page test reads
#: them in about a third of the time, and what it checks (parts, order, each page's own text)
#: does not depend on how much text a page holds.
LIGHT_PAGES = [("eyes17.es.pdf", 0), ("maint-guide.es.pdf", 1), ("eyes17.es.pdf", 47),
               ("maint-guide.es.pdf", 18), ("eyes17.es.pdf", 62), ("maint-guide.es.pdf", 46)]


def real_pages_pdf(path: Path, pages: int, cycle: list[tuple[str, int]] = REAL_PAGES) -> Path:
    """``pages`` pages: page n (1-based) is cycle[(n - 1) % len(cycle)]."""
    import pypdfium2 as pdfium

    sources = {name: pdfium.PdfDocument(str(corpus.manual(name))) for name in {n for n, _ in cycle}}
    out = pdfium.PdfDocument.new()
    for number in range(pages):
        name, index = cycle[number % len(cycle)]
        out.import_pages(sources[name], [index], index=number)
    out.save(str(path))
    for pdf in (out, *sources.values()):
        pdf.close()
    return path


def sized_pdf(path: Path, pages: int, total_bytes: int) -> Path:
    """A valid PDF of ``pages`` one-inch pages and about ``total_bytes``: each page draws an
    uncompressed RGB image of its own random bytes."""
    side = max(1, int((total_bytes / pages / 3) ** 0.5))
    image_bytes = side * side * 3
    offsets: list[int] = []
    with open(path, "wb") as out:
        def obj(number: int, body: bytes, stream: bytes = b"") -> None:
            offsets.append(out.tell())
            out.write(b"%d 0 obj\n" % number + body)
            if stream:
                out.write(b"\nstream\n" + stream + b"\nendstream")
            out.write(b"\nendobj\n")

        out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
        # Objects: 1 catalog, 2 pages, then per page: page, content, image.
        kids = b" ".join(b"%d 0 R" % (3 + 3 * i) for i in range(pages))
        obj(1, b"<< /Type /Catalog /Pages 2 0 R >>")
        obj(2, b"<< /Type /Pages /Count %d /Kids [%s] >>" % (pages, kids))
        content = b"q 72 0 0 72 0 0 cm /Im Do Q"
        for i in range(pages):
            page, stream, image = 3 + 3 * i, 4 + 3 * i, 5 + 3 * i
            obj(page, b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 72 72] /Contents %d 0 R "
                      b"/Resources << /XObject << /Im %d 0 R >> >> >>" % (stream, image))
            obj(stream, b"<< /Length %d >>" % len(content), content)
            obj(image, b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceRGB "
                       b"/BitsPerComponent 8 /Length %d >>" % (side, side, image_bytes), os.urandom(image_bytes))
        xref = out.tell()
        out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(offsets) + 1))
        out.write(b"".join(b"%010d 00000 n \n" % offset for offset in offsets))
        out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(offsets) + 1, xref))
    return path
