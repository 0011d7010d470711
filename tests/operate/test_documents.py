"""submit, result and wait against moto, with results written by the worker's own code
(ocr_worker.results, ocr_worker.parts): the two sides keep one convention."""

import io
import json

import pytest
from ocr_worker.jobs import Job, Source
from ocr_worker.parts import FOLDER, PartStore
from ocr_worker.results import ResultStore

from constructs_lib.operate import documents
from constructs_lib.operate.deployment import NOT_YET, USAGE, OperatorError

pytestmark = pytest.mark.moto


def write_result(clients, deployment, upload, body):
    job = Job(deployment.input_bucket, upload.key, upload.etag, upload.version)
    store = ResultStore(clients["s3"], deployment.output_bucket, deployment.output_prefix)
    store.write(job, Source(deployment.input_bucket, upload.key, upload.etag, upload.version), body, {}, lambda: True)


def test_submit_puts_the_file_under_the_input_prefix(clients, deployment, tmp_path):
    path = tmp_path / "scan.pdf"
    path.write_bytes(b"%PDF-1.4 test")
    upload = documents.submit(clients["s3"], deployment, path)
    head = clients["s3"].head_object(Bucket=deployment.input_bucket, Key="incoming/scan.pdf")
    assert (upload.key, upload.version, upload.etag) == ("incoming/scan.pdf", head["VersionId"], head["ETag"].strip('"'))
    assert head["ContentType"] == "application/pdf"
    assert documents.current(clients["s3"], deployment, "incoming/scan.pdf") == upload


@pytest.mark.parametrize("make, key, message", [
    (lambda p: None, None, "no such file"),
    (lambda p: p.mkdir(), None, "is a directory"),
    (lambda p: p.write_bytes(b"x"), "elsewhere/x.pdf", "outside the input prefix 'incoming/'"),
])
def test_submit_refuses_what_would_never_be_read(clients, deployment, tmp_path, make, key, message):
    path = tmp_path / "doc.pdf"
    make(path)
    with pytest.raises(OperatorError, match=message) as raised:
        documents.submit(clients["s3"], deployment, path, key)
    assert raised.value.code == USAGE


def test_the_result_of_this_upload_and_not_of_an_earlier_one(clients, deployment, tmp_path):
    path = tmp_path / "a.png"
    path.write_bytes(b"first")
    first = documents.submit(clients["s3"], deployment, path)
    write_result(clients, deployment, first, {"pages": [{"lines": [{"text": "one"}]}], "seconds": 1})
    assert documents.result(clients["s3"], deployment, first).body["pages"][0]["lines"][0]["text"] == "one"
    path.write_bytes(b"second")
    second = documents.submit(clients["s3"], deployment, path)
    assert documents.result(clients["s3"], deployment, second) is None  # the stale result is not this upload's
    write_result(clients, deployment, second, {"error": "not a document"})
    found = documents.result(clients["s3"], deployment, second)
    assert found.refused and found.key == "results/incoming/a.png.error.json"


def test_progress_of_a_split_document(clients, deployment, tmp_path):
    path = tmp_path / "long.pdf"
    path.write_bytes(b"%PDF")
    upload = documents.submit(clients["s3"], deployment, path)
    assert FOLDER == documents.PARTS_FOLDER
    assert documents.describe_progress(documents.progress(clients["s3"], deployment, upload)) == "queued or being read"
    parts = PartStore(clients["s3"], clients["sqs"], deployment.output_bucket, deployment.output_prefix,
                      deployment.queue_url)
    parts.split(Source(deployment.input_bucket, upload.key, upload.etag, upload.version), 45, 20)
    state = documents.progress(clients["s3"], deployment, upload)
    assert documents.describe_progress(state) == "0 of 45 pages read, 3 of 3 parts to go"


def test_wait_reports_progress_and_returns_the_result(clients, deployment, tmp_path):
    path = tmp_path / "w.png"
    path.write_bytes(b"w")
    upload = documents.submit(clients["s3"], deployment, path)
    now = [0.0]

    def sleep(seconds):
        now[0] += seconds
        if now[0] >= 30:
            write_result(clients, deployment, upload, {"pages": [], "seconds": 0})

    out = io.StringIO()
    found = documents.wait(clients["s3"], deployment, upload, timeout=600, out=out, clock=lambda: now[0], sleep=sleep)
    assert found.body["pages"] == [] and not found.refused
    assert out.getvalue().splitlines() == [f"incoming/w.png: queued or being read ({s} s)" for s in (0, 10, 20)]


def test_wait_gives_up_after_its_timeout(clients, deployment, tmp_path):
    path = tmp_path / "t.png"
    path.write_bytes(b"t")
    upload = documents.submit(clients["s3"], deployment, path)
    now = [0.0]
    with pytest.raises(OperatorError, match="no result after 5 s") as raised:
        documents.wait(clients["s3"], deployment, upload, timeout=5, out=io.StringIO(), clock=lambda: now[0],
                       sleep=lambda s: now.__setitem__(0, now[0] + s))
    assert raised.value.code == NOT_YET


def test_the_result_body_is_the_workers_json(clients, deployment, tmp_path):
    path = tmp_path / "j.png"
    path.write_bytes(b"j")
    upload = documents.submit(clients["s3"], deployment, path)
    write_result(clients, deployment, upload, {"pages": [{"lines": [{"text": "é"}]}], "seconds": 2})
    raw = clients["s3"].get_object(Bucket=deployment.output_bucket, Key="results/incoming/j.png.json")["Body"].read()
    assert documents.result(clients["s3"], deployment, upload).body == json.loads(raw)
