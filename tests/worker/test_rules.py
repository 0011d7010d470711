"""Every stop and retry rule of the README's table ("Stop and retry semantics"), in process and in
milliseconds: the real Worker, a fake engine, and moto's in-process S3 and SQS (versioned buckets,
conditional writes). The real-process tiers (test_queue_worker.py, test_chaos.py, the e2e tests)
keep what needs processes: signals, crashes, IAM enforcement, real inference."""

import json
import time

import pytest

from tests.worker.docs import INVOICE, encode, encrypted_pdf, pdf_of, text_image
from tests.worker.inprocess import (
    IN, OUT, PNG, THREE_PAGES, FakeEngine, aws, error_of, failures_of, handle_next, make_worker, receive, send,
    upload, written)

SIZE_LIMIT = 100_000

# -- scale-in, deployment ----------------------------------------------------------------------

def test_a_busy_worker_protects_its_task_and_releases_it_when_idle(aws):
    seen = []
    worker, protection = make_worker(aws, FakeEngine(during=lambda page: seen.append(list(protection.calls))))
    send(aws, {"Records": [upload(aws, "incoming/a.png", PNG)]})
    assert handle_next(worker, aws) == "done"
    assert seen == [["protect"]]  # protected while the document was read
    assert protection.calls == ["protect", "release"]


# -- SIGTERM -------------------------------------------------------------------------------------

def sigterm(worker, seconds_left):
    """What the SIGTERM handler does: stop, with ``seconds_left`` to the stop deadline."""
    worker.stopping.set()
    worker.stop_deadline = time.monotonic() + seconds_left


def test_sigterm_finishes_the_document_when_the_rest_fits_before_the_stop_timeout(aws):
    worker, _ = make_worker(aws)
    worker.engine.during = lambda page: page == 0 and sigterm(worker, 60)
    send(aws, {"Records": [upload(aws, "incoming/three.pdf", THREE_PAGES)]})
    assert handle_next(worker, aws) == "done"
    assert written(aws, "incoming/three.pdf") == {"result": 1, "error": 0}
    assert receive(aws) is None


def test_sigterm_requeues_a_document_that_cannot_finish_and_counts_no_failure(aws):
    worker, _ = make_worker(aws)
    worker.engine.during = lambda page: page == 0 and sigterm(worker, 0)
    send(aws, {"Records": [upload(aws, "incoming/three.pdf", THREE_PAGES)]}, failures=1)
    assert handle_next(worker, aws) == "interrupted"
    assert written(aws, "incoming/three.pdf") == {"result": 0, "error": 0}
    again = receive(aws)  # a new message (its receive count starts again), the same failures
    assert failures_of(again) == 1 and again["Attributes"]["ApproximateReceiveCount"] == "1"


def test_a_message_received_while_stopping_goes_back_unread(aws):
    worker, _ = make_worker(aws, wait_seconds=0)
    send(aws, {"Records": [upload(aws, "incoming/a.png", PNG)]})
    # SIGTERM arrives during the long poll that receives the message.
    aws["sqs"].meta.events.register("after-call.sqs.ReceiveMessage", lambda **kwargs: sigterm(worker, 100))
    worker.run()
    assert worker.engine.calls == 0 and failures_of(receive(aws)) == 0


# -- SIGTERM during warm-up or model load --------------------------------------------------------

def test_sigterm_before_ready_stops_without_a_traceback():
    """`warm` and `worker` turn SIGTERM before they are ready into Stopped, which the command
    exits 0 on (test_queue_worker.py sends the real signal to a loading process)."""
    import signal

    from ocr_worker import signals

    previous = signal.getsignal(signal.SIGTERM)
    try:
        signals.stop_promptly()
        with pytest.raises(signals.Stopped):
            signal.raise_signal(signal.SIGTERM)
    finally:
        signal.signal(signal.SIGTERM, previous)


SIGTERM_INSIDE_PADDLES_IMPORT = """
import importlib.abc, os, signal, sys, threading
from ocr_worker import signals

# A thread that exists before the import: the kernel may deliver a process's SIGTERM to it.
idle = threading.Thread(target=threading.Event().wait, daemon=True)
idle.start()

class SignalMidImport(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "paddle.base.backward":  # deep inside `import paddle`
            signal.pthread_kill({thread}, signal.SIGTERM)
        return None

signals.stop_promptly()
sys.meta_path.insert(0, SignalMidImport())
try:
    signals.import_paddle()
except signals.Stopped:
    print("stopped after the import:", "paddle" in sys.modules)
"""


@pytest.mark.slow
@pytest.mark.parametrize("thread", ["threading.main_thread().ident", "idle.ident"], ids=["main", "another"])
def test_sigterm_inside_paddles_import_stops_after_it_not_with_an_import_error(thread):
    """Paddle turns an exception raised inside its import into "Can not import paddle core": the
    chaos test saw a worker stopped there exit 1 with that traceback, also when the signal reached
    a thread other than the one importing."""
    import subprocess
    import sys

    script = SIGTERM_INSIDE_PADDLES_IMPORT.replace("{thread}", thread)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "stopped after the import: True", out.stderr[-2000:]


# -- bad documents: an error result at once, never a retry ---------------------------------------

BAD = {
    "unreadable": ("incoming/torn.png", PNG[:len(PNG) // 2], "unreadable image"),
    "encrypted": ("incoming/locked.pdf", encrypted_pdf(), "encrypted PDF"),
    "over the size limit": ("incoming/huge.png", b"\x89PNG\r\n\x1a\n" + bytes(SIZE_LIMIT),
                            f"the limit is {SIZE_LIMIT} (documents.max_bytes)"),
}


@pytest.mark.parametrize("key, data, reason", BAD.values(), ids=BAD.keys())
def test_a_bad_document_gets_an_error_result_and_its_message_is_deleted(aws, key, data, reason):
    worker, _ = make_worker(aws, max_bytes=SIZE_LIMIT)
    send(aws, {"Records": [upload(aws, key, data)]})
    assert handle_next(worker, aws) == "done"
    assert reason in error_of(aws, key) and written(aws, key) == {"result": 0, "error": 1}
    assert receive(aws) is None and receive(aws, "dlq") is None


def test_an_oversized_document_is_refused_before_a_byte_is_read(aws):
    engine = FakeEngine()
    worker, _ = make_worker(aws, engine, max_bytes=SIZE_LIMIT)
    send(aws, {"Records": [upload(aws, "incoming/huge.png", bytes(SIZE_LIMIT + 1))]})
    read = []
    worker.s3.meta.events.register("before-call.s3.GetObject", lambda **kwargs: read.append(kwargs))
    assert handle_next(worker, aws) == "done"
    assert read == [] and engine.calls == 0


def test_a_document_over_max_document_seconds_gets_an_error_result(aws):
    worker, _ = make_worker(aws, FakeEngine(during=lambda page: time.sleep(0.01)), max_document_seconds=0)
    send(aws, {"Records": [upload(aws, "incoming/three.pdf", THREE_PAGES)]})
    assert handle_next(worker, aws) == "done"
    assert "document took more than 0 s" in error_of(aws, "incoming/three.pdf")


def test_a_missing_object_gets_an_error_result(aws):
    worker, _ = make_worker(aws)
    send(aws, {"bucket": IN, "key": "incoming/never.png"})
    assert handle_next(worker, aws) == "done"
    assert error_of(aws, "incoming/never.png") == "object not found"


def test_a_malformed_message_is_deleted_with_nothing_written(aws):
    worker, _ = make_worker(aws)
    aws["sqs"].send_message(QueueUrl=aws["queue"], MessageBody="not json")
    assert handle_next(worker, aws) == "done"
    assert receive(aws) is None and "Contents" not in aws["s3"].list_objects_v2(Bucket=OUT)


# -- an outage or a bug: retried, then dead-lettered ---------------------------------------------

def test_an_outage_is_retried_as_a_new_message_counting_one_failure(aws):
    worker, _ = make_worker(aws, output_bucket="no-such-bucket", retry_delay=0)
    send(aws, {"Records": [upload(aws, "incoming/a.png", PNG)]})
    assert handle_next(worker, aws) == "retry"
    assert failures_of(receive(aws)) == 1 and receive(aws, "dlq") is None


def test_a_bug_is_retried_and_after_max_failures_the_worker_dead_letters_it(aws):
    def bug(page):
        raise RuntimeError("a bug")

    worker, _ = make_worker(aws, FakeEngine(during=bug), max_failures=3)
    send(aws, {"Records": [upload(aws, "incoming/a.png", PNG)]}, failures=2)
    assert handle_next(worker, aws) == "dead"
    assert receive(aws) is None and failures_of(receive(aws, "dlq")) == 3


def test_the_retry_waits_retry_delay_seconds(aws):
    worker, _ = make_worker(aws, output_bucket="no-such-bucket", retry_delay=30)
    send(aws, {"Records": [upload(aws, "incoming/a.png", PNG)]})
    sent = []
    aws["sqs"].meta.events.register("provide-client-params.sqs.SendMessage", lambda params, **kw: sent.append(params))
    handle_next(worker, aws)
    assert [p["DelaySeconds"] for p in sent] == [30]


# -- a crash ---------------------------------------------------------------------------------

def test_a_crash_leaves_the_message_to_reappear_after_its_lease(aws):
    """Out of memory or SIGKILL: nothing deletes the message; after the lease it is received
    again (its receive count, which the queue's redrive counts, goes up)."""
    def crash(page):
        raise SystemExit(137)

    worker, _ = make_worker(aws, FakeEngine(during=crash), visibility_timeout=1)
    send(aws, {"Records": [upload(aws, "incoming/a.png", PNG)]})
    message = aws["sqs"].receive_message(QueueUrl=aws["queue"], VisibilityTimeout=1)["Messages"][0]
    with pytest.raises(SystemExit):
        worker.handle(message)
    time.sleep(1.2)
    assert receive(aws)["Attributes"]["ApproximateReceiveCount"] == "2"


# -- records of objects since overwritten or deleted ---------------------------------------------

def test_a_record_of_an_overwritten_object_is_skipped(aws):
    worker, _ = make_worker(aws)
    old = upload(aws, "incoming/a.png", PNG)
    upload(aws, "incoming/a.png", encode(text_image("otra factura"), "PNG"))
    send(aws, {"Records": [old]})
    assert handle_next(worker, aws) == "done"
    assert written(aws, "incoming/a.png") == {"result": 0, "error": 0} and worker.engine.calls == 0


def test_a_record_of_a_deleted_object_is_skipped(aws):
    worker, _ = make_worker(aws)
    gone = upload(aws, "incoming/a.png", PNG)
    aws["s3"].delete_object(Bucket=IN, Key="incoming/a.png")
    send(aws, {"Records": [gone]})
    assert handle_next(worker, aws) == "done"
    assert written(aws, "incoming/a.png") == {"result": 0, "error": 0}


def test_a_repeated_record_is_not_done_again(aws):
    worker, _ = make_worker(aws)
    record = upload(aws, "incoming/a.png", PNG)
    for _ in range(2):
        send(aws, {"Records": [record]})
        assert handle_next(worker, aws) == "done"
    assert written(aws, "incoming/a.png") == {"result": 1, "error": 0} and worker.engine.calls == 1


def test_a_late_record_of_an_older_version_never_overwrites_the_newer_result(aws):
    worker, _ = make_worker(aws)
    old = upload(aws, "incoming/a.png", PNG)
    new = upload(aws, "incoming/a.png", pdf_of([INVOICE, INVOICE]))
    send(aws, {"Records": [new]})
    handle_next(worker, aws)
    send(aws, {"Records": [old]})
    handle_next(worker, aws)
    body = json.loads(aws["s3"].get_object(Bucket=OUT, Key="results/incoming/a.png.json")["Body"].read())
    assert body["source"]["version"] == new["s3"]["object"]["versionId"] and len(body["pages"]) == 2
    assert written(aws, "incoming/a.png") == {"result": 1, "error": 0}


def test_each_record_of_a_multi_record_event_is_handled_on_its_own(aws):
    worker, _ = make_worker(aws)
    send(aws, {"Records": [upload(aws, "incoming/a.png", PNG), upload(aws, "incoming/b.pdf", encrypted_pdf())]})
    assert handle_next(worker, aws) == "done"
    assert written(aws, "incoming/a.png") == {"result": 1, "error": 0}
    assert written(aws, "incoming/b.pdf") == {"result": 0, "error": 1}
