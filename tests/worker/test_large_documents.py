"""A 600-page PDF of real (light) pages read in full by three real worker processes, running as the task
role with IAM enforced, into one result with every page once, in order, with that page's text
(test_parts.py has the rules in process, and the 3,000-page, 400 MB split)."""

import json
import time

import pytest

from tests.worker.large import LIGHT_PAGES, real_pages_pdf
from tests.worker.test_queue_worker import event, queue_empty, result, start_worker, stop, wait_for

pytestmark = [pytest.mark.moto, pytest.mark.ocr, pytest.mark.slow]


def test_a_600_page_pdf_is_read_in_full_by_three_workers(aws, warm_cache, mirror, tmp_path):
    # Light pages, 72 dpi and one inference thread per worker (3 workers, 2 CPUs) keep 600 pages
    # inside CI's time; the reading is compared page by page with the same workers' reading of
    # each real page alone.
    workers = [start_worker(aws, warm_cache, mirror, OCR_PDF_DPI="72", OCR_CPU_THREADS="1") for _ in range(3)]
    try:
        reference = real_pages_pdf(tmp_path / "reference.pdf", len(LIGHT_PAGES), LIGHT_PAGES)
        aws["s3"].put_object(Bucket=aws["in"], Key="incoming/reference.pdf", Body=reference.read_bytes())
        aws["sqs"].send_message(QueueUrl=aws["queue"], MessageBody=json.dumps(event(aws, "incoming/reference.pdf")))
        expected = [page["lines"] for page in wait_for(lambda: result(aws, "incoming/reference.pdf"))["pages"]]
        assert all(expected)

        start = time.monotonic()
        long = real_pages_pdf(tmp_path / "long.pdf", 600, LIGHT_PAGES)
        aws["s3"].put_object(Bucket=aws["in"], Key="incoming/long.pdf", Body=long.read_bytes())
        aws["sqs"].send_message(QueueUrl=aws["queue"], MessageBody=json.dumps(event(aws, "incoming/long.pdf")))
        merged = wait_for(lambda: result(aws, "incoming/long.pdf"), timeout=1500)
        seconds = time.monotonic() - start
        wait_for(lambda: queue_empty(aws))
    finally:
        logs = [stop(w) for w in workers]
    assert [p["page"] for p in merged["pages"]] == list(range(1, 601))
    for page in merged["pages"]:
        assert [line["text"] for line in page["lines"]] == \
            [line["text"] for line in expected[(page["page"] - 1) % len(LIGHT_PAGES)]], page["page"]
    assert merged["parts"] == 30
    read = [json.loads(line) for out in logs for line in out.splitlines()
            if line.startswith("{") and json.loads(line)["message"] == "processing"]
    by_worker = [sum(1 for line in out.splitlines() if '"processing"' in line and "incoming/long.pdf" in line)
                 for out in logs]
    assert sum(1 for e in read if e.get("pages")) == 30 and all(by_worker), by_worker  # every worker took parts
    print(f"\n600 pages at 72 dpi: {seconds:.0f} s with 3 workers; parts per worker {by_worker}")
