"""Long documents in parts (ocr_worker.parts), in process: the split, each part written once, the
merge done once, a source overwritten mid-document, a part that fails for good and its redrive,
SIGTERM in a part, and the 3,000-page, 400 MB limit. The real-process tests are in
test_large_documents.py and test_chaos.py."""

import dataclasses
import json
import threading

import boto3
import pytest
from botocore.config import Config
from ocr_worker.jobs import Source
from ocr_worker.parts import PartStore, ranges

from tests.worker.docs import INVOICE, pdf_of
from tests.worker.large import sized_pdf
from tests.worker.inprocess import (
    IN, OUT, FakeEngine, aws, failures_of, handle_next, make_worker, receive, send, upload, written)
from tests.worker.test_rules import sigterm

KEY = "incoming/long.pdf"
LONG = pdf_of([INVOICE] * 45)

assert aws  # the fixture, imported for the tests below


def part_messages(aws):
    messages = []
    while (message := receive_any(aws)) is not None:
        messages.append(message)
    return messages


def receive_any(aws, queue="queue"):
    got = aws["sqs"].receive_message(QueueUrl=aws[queue], MaxNumberOfMessages=1, WaitTimeSeconds=0,
                                     MessageAttributeNames=["All"], AttributeNames=["All"]).get("Messages", [])
    return got[0] if got else None


def split(aws, worker, data=LONG):
    record = upload(aws, KEY, data)
    send(aws, {"Records": [record]})
    assert handle_next(worker, aws) == "done"
    return record, part_messages(aws)


def result(aws, error=False):
    return json.loads(aws["s3"].get_object(Bucket=OUT, Key=f"results/{KEY}{'.error' if error else ''}.json")
                      ["Body"].read())


def store(aws):
    return PartStore(aws["s3"], aws["sqs"], OUT, "results/", aws["queue"])


def source_of(record):
    obj = record["s3"]["object"]
    return Source(IN, KEY, obj["eTag"], obj["versionId"])


def test_ranges_cover_every_page_once():
    assert ranges(45, 20) == [(1, 20), (21, 40), (41, 45)]
    assert ranges(20, 20) == [(1, 20)] and ranges(1, 20) == [(1, 1)]


def test_a_long_document_is_split_into_part_jobs_naming_its_exact_version(aws):
    worker, _ = make_worker(aws, pages_per_part=20)
    record, parts = split(aws, worker)
    bodies = [json.loads(m["Body"]) for m in parts]
    assert sorted(b["pages"] for b in bodies) == [[1, 20], [21, 40], [41, 45]]
    assert {(b["etag"], b["version"]) for b in bodies} == {(record["s3"]["object"]["eTag"],
                                                            record["s3"]["object"]["versionId"])}
    assert worker.engine.calls == 0 and written(aws, KEY) == {"result": 0, "error": 0}
    progress = store(aws).progress(source_of(record))
    assert progress["parts_outstanding"] == 3 and progress["pages_done"] == 0


def test_the_parts_merge_into_one_result_with_every_page_in_order(aws):
    worker, _ = make_worker(aws, pages_per_part=20)
    record, parts = split(aws, worker)
    for message in reversed(parts):  # any order
        assert worker.handle(message) == "done"
    body = result(aws)
    assert [p["page"] for p in body["pages"]] == list(range(1, 46))
    assert body["pages"][44]["lines"][0]["text"] == f"{INVOICE} 45" and body["parts"] == 3
    assert body["source"]["version"] == record["s3"]["object"]["versionId"]
    assert written(aws, KEY) == {"result": 1, "error": 0}
    assert sorted(worker.engine.parts) == [(1, 20), (21, 40), (41, 45)]
    progress = json.loads(aws["s3"].get_object(Bucket=OUT, Key=store(aws).folder(source_of(record)) +
                                               "progress.json")["Body"].read())
    assert progress["pages_done"] == 45 and progress["parts_outstanding"] == 0


def test_a_short_document_is_read_whole(aws):
    worker, _ = make_worker(aws, pages_per_part=45)
    split(aws, worker)
    assert written(aws, KEY) == {"result": 1, "error": 0} and worker.engine.parts == [None]


def test_a_duplicate_part_delivery_does_nothing(aws):
    worker, _ = make_worker(aws, pages_per_part=20)
    _, parts = split(aws, worker)
    first = parts[0]["Body"]
    for message in parts:
        worker.handle(message)
    send(aws, json.loads(first))
    assert handle_next(worker, aws) == "done"
    assert worker.engine.calls == 3 and written(aws, KEY) == {"result": 1, "error": 0}


def test_a_split_done_again_queues_the_same_parts_and_nothing_is_read_twice(aws):
    worker, _ = make_worker(aws, pages_per_part=20)
    record, parts = split(aws, worker)
    # A redelivered event after a config change: the first split's manifest decides the ranges.
    worker.reader.config = dataclasses.replace(worker.config, pages_per_part=10)
    send(aws, {"Records": [record]})
    handle_next(worker, aws)
    again = part_messages(aws)
    assert sorted(json.loads(m["Body"])["pages"] for m in again) == [[1, 20], [21, 40], [41, 45]]
    for message in parts + again:
        worker.handle(message)
    assert worker.engine.calls == 3 and written(aws, KEY) == {"result": 1, "error": 0}


def test_two_workers_finishing_the_last_parts_at_once_merge_once(aws):
    """Both list the folder after both parts are written (the race the merge rule is about):
    both see every record, and the result is still written once."""
    a, _ = make_worker(aws, pages_per_part=20)
    b, _ = make_worker(aws, pages_per_part=20)
    _, parts = split(aws, a)
    a.handle(parts[0])
    both_written = threading.Barrier(2, timeout=30)
    listed = []

    def wait_for_the_other(**kwargs):
        if len(listed) < 2:
            listed.append(1)
            both_written.wait()

    aws["s3"].meta.events.register("before-call.s3.ListObjectsV2", wait_for_the_other)
    threads = [threading.Thread(target=w.handle, args=(m,)) for w, m in ((a, parts[1]), (b, parts[2]))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert written(aws, KEY) == {"result": 1, "error": 0}
    assert [p["page"] for p in result(aws)["pages"]] == list(range(1, 46))


def test_a_source_overwritten_mid_document_leaves_its_other_parts_unread(aws):
    worker, _ = make_worker(aws, pages_per_part=20)
    record, parts = split(aws, worker)
    worker.handle(parts[0])
    aws["s3"].put_object(Bucket=IN, Key=KEY, Body=pdf_of([INVOICE]))  # its own event brings its result
    for message in parts[1:]:
        assert worker.handle(message) == "done"
    assert worker.engine.calls == 1 and written(aws, KEY) == {"result": 0, "error": 0}
    assert store(aws).progress(source_of(record))["parts_outstanding"] == 2


def test_a_part_that_fails_for_good_leaves_an_error_result_naming_its_pages(aws):
    def bug(page):
        if page == 24:
            raise RuntimeError("a bug on page 25")

    worker, _ = make_worker(aws, FakeEngine(during=bug), pages_per_part=20, max_failures=1)
    _, parts = split(aws, worker)
    outcomes = sorted(str(worker.handle(m).value) for m in parts)
    assert outcomes == ["dead", "done", "done"]
    assert failures_of(receive(aws, "dlq")) == 1
    body = result(aws, error=True)
    assert body["missing_pages"] == [[21, 40]] and body["error"].startswith("pages 21-40 of 45 were not read")
    assert "a bug on page 25" in body["error"]
    assert [p["page"] for p in body["pages"]] == list(range(1, 46))  # the pages read are kept
    assert body["pages"][0]["lines"] and body["pages"][20]["error"]
    assert written(aws, KEY) == {"result": 0, "error": 1}


def test_a_redriven_part_completes_the_document(aws):
    fail = [True]

    def bug(page):
        if page == 24 and fail[0]:
            raise RuntimeError("an outage")

    worker, _ = make_worker(aws, FakeEngine(during=bug), pages_per_part=20, max_failures=1)
    _, parts = split(aws, worker)
    for message in parts:
        worker.handle(message)
    fail[0] = False
    dead = receive(aws, "dlq")
    send(aws, json.loads(dead["Body"]))  # a redrive
    assert handle_next(worker, aws) == "done"
    assert [p["page"] for p in result(aws)["pages"]] == list(range(1, 46))
    assert written(aws, KEY)["result"] == 1


def test_sigterm_in_a_part_requeues_that_part_only(aws):
    worker, _ = make_worker(aws, pages_per_part=20)
    _, parts = split(aws, worker)
    worker.handle(parts[0])
    worker.engine.during = lambda page: page == 21 and sigterm(worker, 0)
    assert worker.handle(parts[1]) == "interrupted"
    again = receive(aws)
    assert json.loads(again["Body"])["pages"] == [21, 40] and failures_of(again) == 0
    worker.stopping.clear()
    worker.stop_deadline = float("inf")
    worker.engine.during = None
    for message in (again, parts[2]):
        worker.handle(message)
    assert [p["page"] for p in result(aws)["pages"]] == list(range(1, 46))
    assert worker.engine.parts.count((1, 20)) == 1  # nothing before the interrupted part is redone


@pytest.mark.parametrize("field, value, message", [
    ("max_pages", 44, "PDF has 45 pages; the limit is 44 (OCR_MAX_PAGES)"),
    ("max_bytes", len(LONG) - 1, f"document is {len(LONG)} bytes; the limit is {len(LONG) - 1}"),
])
def test_the_limits_are_settings(aws, field, value, message):
    worker, _ = make_worker(aws, pages_per_part=20, **{field: value})
    split(aws, worker)
    assert message in result(aws, error=True)["error"]


@pytest.mark.slow
def test_a_3000_page_400_mb_pdf_is_accepted_and_split(aws, tmp_path):
    path = sized_pdf(tmp_path / "archive.pdf", 3000, 400 * 1024 * 1024)
    assert path.stat().st_size > 400 * 1024 * 1024 * 0.99
    worker, _ = make_worker(aws, FakeEngine())  # the deployed limits and part size
    # Without a streamed checksum: moto decodes an aws-chunked upload of this size in minutes.
    plain = boto3.client("s3", config=Config(request_checksum_calculation="when_required"))
    put = plain.put_object(Bucket=IN, Key="incoming/archive.pdf", Body=path.read_bytes())
    record = {"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": IN}, "object": {
        "key": "incoming/archive.pdf", "eTag": put["ETag"].strip('"'), "versionId": put["VersionId"]}}}
    send(aws, {"Records": [record]})
    assert worker.handle(receive(aws)) == "done"
    parts = []
    while (message := aws["sqs"].receive_message(QueueUrl=aws["queue"], MaxNumberOfMessages=10,
                                                 WaitTimeSeconds=0).get("Messages")):
        parts.extend(message)
    assert len(parts) == 150 and worker.engine.calls == 0
    ranges = sorted(tuple(json.loads(m["Body"])["pages"]) for m in parts)
    assert ranges[0] == (1, 20) and ranges[-1] == (2981, 3000)
    by_range = {tuple(json.loads(m["Body"])["pages"]): m for m in parts}
    for sample in ((1, 20), (1481, 1500), (2981, 3000)):  # any task takes any part
        assert worker.handle(by_range[sample]) == "done"
    assert sorted(worker.engine.parts) == [(1, 20), (1481, 1500), (2981, 3000)]
    progress = store(aws).progress(Source(IN, "incoming/archive.pdf", record["s3"]["object"]["eTag"],
                                          record["s3"]["object"]["versionId"]))
    assert (progress["pages"], progress["parts_done"], progress["parts_outstanding"], progress["pages_done"]) == (
        3000, 3, 147, 60)
    assert len(list(worker.reader.copies.directory.iterdir())) == 1  # one local copy, shared by the parts
