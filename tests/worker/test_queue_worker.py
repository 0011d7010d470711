"""`worker` as a real process against a real moto server (S3 and SQS on 127.0.0.1) with IAM
enforced, running as the task role the default synth gives it (tests/conftest.py ``aws``)."""

import json
import signal
import subprocess
import sys
import time

import pytest
from ocr_worker.models import ModelLock

from tests.worker.conftest import worker_env
from tests.worker.docs import INVOICE, PAGE_TWO, encode, encrypted_pdf, pdf_of, text_image, two_page_pdf

pytestmark = [pytest.mark.moto, pytest.mark.ocr, pytest.mark.slow]


def start_worker(aws, warm_cache, mirror, **extra):
    env = worker_env(warm_cache, mirror / "models.lock.json", f"file://{mirror}", **{
        **aws["role_env"], "OCR_QUEUE_URL": aws["queue"], "OCR_OUTPUT_BUCKET": aws["out"],
        "OCR_OUTPUT_PREFIX": "results/", "OCR_WAIT_SECONDS": "1", "OCR_RETRY_DELAY": "0",
        "OCR_VISIBILITY_TIMEOUT": "60", "OCR_DLQ_URL": aws["dlq"], **extra})
    return subprocess.Popen([sys.executable, "-m", "ocr_worker", "worker"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def event(aws, *keys):
    """An S3 ObjectCreated notification for the current version of ``keys`` as S3 sends it: key
    URL-encoded, ETag unquoted, and the versionId of a versioned bucket
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html)."""
    records = []
    for key in keys:
        head = aws["s3"].head_object(Bucket=aws["in"], Key=key)
        records.append(record(aws, key, head["ETag"].strip('"'), head.get("VersionId")))
    return {"Records": records}


def record(aws, key, etag, version=None):
    obj = {"key": key.replace(" ", "+"), "eTag": etag, **({"versionId": version} if version else {})}
    return {"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": aws["in"]}, "object": obj}}


def submit(aws, key, data, s3_event=True):
    aws["s3"].put_object(Bucket=aws["in"], Key=key, Body=data)
    body = event(aws, key) if s3_event else {"bucket": aws["in"], "key": key}
    aws["sqs"].send_message(QueueUrl=aws["queue"], MessageBody=json.dumps(body))


def result(aws, key, error=False):
    try:
        body = aws["s3"].get_object(Bucket=aws["out"], Key=f"results/{key}{'.error' if error else ''}.json")[
            "Body"].read()
    except aws["s3"].exceptions.NoSuchKey:
        return None
    return json.loads(body)


def wait_for(condition, timeout=180, proc=None):
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, "timed out"
        assert proc is None or proc.poll() is None, "the worker died"
        time.sleep(0.5)
    return value


def dlq_messages(aws):
    return aws["sqs"].receive_message(QueueUrl=aws["dlq"], MaxNumberOfMessages=10,
                                      MessageAttributeNames=["All"]).get("Messages", [])


def queue_empty(aws):
    attrs = aws["sqs"].get_queue_attributes(QueueUrl=aws["queue"], AttributeNames=["All"])["Attributes"]
    return all(attrs[a] == "0" for a in ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                                         "ApproximateNumberOfMessagesDelayed"))


def log_lines(out):
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def stop(worker):
    worker.terminate()
    return worker.communicate(timeout=120)[0]


def test_document_in_result_out(aws, warm_cache, mirror):
    worker = start_worker(aws, warm_cache, mirror)
    try:
        submit(aws, "incoming/scans/invoice 1.png", encode(text_image(INVOICE), "PNG"))
        out = wait_for(lambda: result(aws, "incoming/scans/invoice 1.png"), proc=worker)
        assert [line["text"] for line in out["pages"][0]["lines"]] == [INVOICE]
        # The record names the version (a versioned bucket): read as s3:GetObjectVersion, which the
        # task role lacked before, so every document was retried into the DLQ.
        head = aws["s3"].head_object(Bucket=aws["in"], Key="incoming/scans/invoice 1.png")
        assert out["source"] == {"bucket": aws["in"], "key": "incoming/scans/invoice 1.png",
                                 "etag": head["ETag"].strip('"'), "version": head["VersionId"]}
        assert out["models"] == [spec.name for spec in ModelLock.load(mirror / "models.lock.json").models]
        wait_for(lambda: queue_empty(aws))
    finally:
        stop(worker)


#: A small OCR_MAX_BYTES, so the oversized document stays small (the default is 500 MiB).
MAX_BYTES = 1_000_000


def test_permanent_errors_get_an_error_result_at_once_and_outages_reach_the_dlq(aws, warm_cache, mirror):
    worker = start_worker(aws, warm_cache, mirror, OCR_MAX_BYTES=str(MAX_BYTES))
    try:
        submit(aws, "incoming/bad.pdf", b"%PDF-1.7 this is not a PDF", s3_event=False)
        submit(aws, "incoming/locked.pdf", encrypted_pdf())
        aws["s3"].put_object(Bucket=aws["in"], Key="incoming/huge.png", Body=b"\x89PNG\r\n\x1a\n" + bytes(MAX_BYTES))
        aws["sqs"].send_message(QueueUrl=aws["queue"], MessageBody=json.dumps(event(aws, "incoming/huge.png")))
        aws["sqs"].send_message(QueueUrl=aws["queue"], MessageBody=json.dumps({"bucket": aws["in"],
                                                                               "key": "incoming/never-uploaded.png"}))
        aws["sqs"].send_message(QueueUrl=aws["queue"], MessageBody="{not json")
        for key, reason in (("incoming/bad.pdf", "unreadable PDF"), ("incoming/locked.pdf", "encrypted PDF"),
                            ("incoming/huge.png", f"the limit is {MAX_BYTES}"), ("incoming/never-uploaded.png", "object not found")):
            assert reason in wait_for(lambda: result(aws, key, error=True), proc=worker)["error"]
        wait_for(lambda: queue_empty(aws), proc=worker)
        assert dlq_messages(aws) == []
    finally:
        out = stop(worker)
    processing = [e["key"] for e in log_lines(out) if e["message"] == "processing"]
    assert sorted(processing) == ["incoming/bad.pdf", "incoming/locked.pdf"]  # each once; the huge one is never read
    assert [e["message"] for e in log_lines(out) if e.get("error", "").startswith("JSONDecodeError")] == [
        "malformed message; deleted"]

    # An outage (here: no output bucket) is retried, then the worker dead-letters the message.
    worker = start_worker(aws, warm_cache, mirror, OCR_OUTPUT_BUCKET="no-such-bucket", OCR_MAX_FAILURES="2")
    try:
        submit(aws, "incoming/good.png", encode(text_image(INVOICE), "PNG"))
        [dead] = wait_for(lambda: dlq_messages(aws), proc=worker)
        assert json.loads(dead["Body"])["Records"][0]["s3"]["object"]["key"] == "incoming/good.png"
        assert dead["MessageAttributes"]["ocr-failures"]["StringValue"] == "2"
        wait_for(lambda: queue_empty(aws), proc=worker)
    finally:
        stop(worker)


def test_each_record_of_an_event_stands_alone_and_no_result_is_written_twice(aws, warm_cache, mirror):
    aws["s3"].put_object(Bucket=aws["in"], Key="incoming/a.png", Body=encode(text_image(INVOICE), "PNG"))
    aws["s3"].put_object(Bucket=aws["in"], Key="incoming/gone.png", Body=encode(text_image(INVOICE), "PNG"))
    aws["s3"].put_object(Bucket=aws["in"], Key="incoming/old.png", Body=encode(text_image(INVOICE), "PNG"))
    body = event(aws, "incoming/a.png", "incoming/gone.png", "incoming/old.png")
    aws["s3"].delete_object(Bucket=aws["in"], Key="incoming/gone.png")  # deleted after its event
    aws["s3"].put_object(Bucket=aws["in"], Key="incoming/old.png", Body=encode(text_image(PAGE_TWO), "PNG"))  # overwritten
    aws["sqs"].send_message(QueueUrl=aws["queue"], MessageBody=json.dumps(body))
    aws["sqs"].send_message(QueueUrl=aws["queue"], MessageBody=json.dumps(event(aws, "incoming/a.png")))  # a duplicate
    worker = start_worker(aws, warm_cache, mirror)
    try:
        wait_for(lambda: result(aws, "incoming/a.png"), proc=worker)
        wait_for(lambda: queue_empty(aws), proc=worker)
    finally:
        out = stop(worker)
    entries = log_lines(out)
    assert [e["key"] for e in entries if e["message"] == "done"] == ["incoming/a.png"]  # written once
    skipped = {e["key"]: e["message"] for e in entries if e["message"].startswith("skipped")}
    assert skipped["incoming/gone.png"] == "skipped: the object was deleted after its event"
    assert skipped["incoming/old.png"].startswith("skipped: the object was overwritten after its event")
    assert skipped["incoming/a.png"] == "skipped: already processed"
    assert result(aws, "incoming/gone.png") is None and result(aws, "incoming/old.png") is None and dlq_messages(aws) == []


def test_a_newer_version_replaces_the_result_and_a_stale_record_never_does(aws, warm_cache, mirror):
    key = "incoming/twice.png"
    aws["s3"].put_object(Bucket=aws["in"], Key=key, Body=encode(text_image(INVOICE), "PNG"))
    first = event(aws, key)
    worker = start_worker(aws, warm_cache, mirror)
    try:
        aws["sqs"].send_message(QueueUrl=aws["queue"], MessageBody=json.dumps(first))
        older = wait_for(lambda: result(aws, key), proc=worker)
        # v2 replaces v1's result (a conditional overwrite: If-Match on the result v1 wrote).
        aws["s3"].put_object(Bucket=aws["in"], Key=key, Body=encode(text_image(PAGE_TWO), "PNG"))
        second = event(aws, key)
        aws["sqs"].send_message(QueueUrl=aws["queue"], MessageBody=json.dumps(second))
        newer = wait_for(lambda: (r := result(aws, key)) != older and r, proc=worker)
        # v1's record delivered again, late (S3 neither orders events nor delivers them once): a
        # HEAD of v1 itself would call it current, and its result would overwrite v2's.
        aws["sqs"].send_message(QueueUrl=aws["queue"], MessageBody=json.dumps(first))
        wait_for(lambda: queue_empty(aws), proc=worker)
    finally:
        out = stop(worker)
    assert [line["text"] for line in older["pages"][0]["lines"]] == [INVOICE]
    assert [line["text"] for line in newer["pages"][0]["lines"]] == [PAGE_TWO]
    assert newer["source"]["version"] == second["Records"][0]["s3"]["object"]["versionId"]
    assert result(aws, key) == newer
    skipped = [e["message"] for e in log_lines(out) if e["message"].startswith("skipped")]
    assert skipped == ["skipped: the object was overwritten after its event; the new upload has its own"]


def sigterm_once_processing(worker):
    """SIGTERM the worker as it starts a document; its whole output once it has exited."""
    for line in worker.stdout:
        if line.startswith("{") and json.loads(line)["message"] == "processing":
            worker.send_signal(signal.SIGTERM)
            break
    return worker.communicate(timeout=120)[0]


def test_sigterm_finishes_the_current_document_then_exits_zero(aws, warm_cache, mirror):
    worker = start_worker(aws, warm_cache, mirror)
    submit(aws, "incoming/two-pages.pdf", two_page_pdf())
    out = sigterm_once_processing(worker)
    assert worker.returncode == 0, out
    done = result(aws, "incoming/two-pages.pdf")
    assert [[line["text"] for line in p["lines"]] for p in done["pages"]] == [[INVOICE], [PAGE_TWO]]
    assert '"message": "stopped"' in out
    assert aws["sqs"].get_queue_attributes(QueueUrl=aws["queue"], AttributeNames=["All"])["Attributes"][
        "ApproximateNumberOfMessages"] == "0"


@pytest.mark.parametrize("after", [0.0, 1.5], ids=["importing paddle", "building the predictors"])
def test_sigterm_while_the_models_load_exits_zero_promptly(aws, warm_cache, mirror, after):
    """Before, the worker installed its SIGTERM handler only once the models had loaded, and
    Paddle's own handler exits 143 anyway: a task stopped during the load set off the "task
    failed" alarm."""
    worker = start_worker(aws, warm_cache, mirror)
    for line in worker.stdout:  # settings checked; Paddle's import and the model load come next
        if line.startswith("{") and json.loads(line)["message"] == "loading the models":
            break
    time.sleep(after)
    worker.send_signal(signal.SIGTERM)
    sent = time.monotonic()
    out = worker.communicate(timeout=60)[0]
    assert worker.returncode == 0, out
    assert time.monotonic() - sent < 10, "not prompt"
    assert '"message": "stopped before ready"' in out and '"message": "polling"' not in out


def test_the_worker_reads_documents_from_a_read_only_cache_mount(aws, warm_cache, mirror):
    """As the task mounts it: a real read-only bind mount (EROFS), in a mount namespace of its
    own. PaddleX writes under its cache home when imported; the worker gives it a private one."""
    env = worker_env(warm_cache, mirror / "models.lock.json", f"file://{mirror}", **{
        **aws["role_env"], "OCR_QUEUE_URL": aws["queue"], "OCR_OUTPUT_BUCKET": aws["out"], "OCR_WAIT_SECONDS": "1"})
    script = (f"mount --bind {warm_cache} {warm_cache} && mount -o remount,ro,bind {warm_cache} && "
              f"exec {sys.executable} -m ocr_worker worker")
    worker = subprocess.Popen(["unshare", "--mount", "sh", "-c", script], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    try:
        submit(aws, "incoming/doc.png", encode(text_image(INVOICE), "PNG"))
        out = wait_for(lambda: result(aws, "incoming/doc.png"), proc=worker)
        assert [line["text"] for line in out["pages"][0]["lines"]] == [INVOICE]
    finally:
        stop(worker)
    assert worker.returncode == 0


def many_page_pdf(pages):
    return pdf_of(f"{INVOICE} {i}" for i in range(pages))


def test_sigterm_with_too_little_time_left_requeues_the_document_without_counting_a_failure(aws, warm_cache,
                                                                                           mirror):
    # 16 s from SIGTERM to SIGKILL leaves 1 s after the margin: not enough for 9 more pages.
    worker = start_worker(aws, warm_cache, mirror, OCR_STOP_SECONDS="16")
    submit(aws, "incoming/long.pdf", many_page_pdf(10))
    out = sigterm_once_processing(worker)
    assert worker.returncode == 0, out
    assert "interrupted; the message goes back to the queue" in out
    assert result(aws, "incoming/long.pdf") is None
    [back] = aws["sqs"].receive_message(QueueUrl=aws["queue"], MessageAttributeNames=["All"],
                                        AttributeNames=["ApproximateReceiveCount"])["Messages"]
    assert back["MessageAttributes"]["ocr-failures"]["StringValue"] == "0"  # an interruption is no failure
    assert back["Attributes"]["ApproximateReceiveCount"] == "1"  # a new message: no step towards the DLQ


def test_an_over_long_document_gets_an_error_result_not_a_retry(aws, warm_cache, mirror):
    worker = start_worker(aws, warm_cache, mirror, OCR_MAX_DOCUMENT_SECONDS="1")
    try:
        submit(aws, "incoming/long.pdf", many_page_pdf(12))
        error = wait_for(lambda: result(aws, "incoming/long.pdf", error=True), proc=worker)["error"]
        assert error.startswith("document took more than 1 s (documents.max_document_seconds) after ")
        assert error.endswith(" of 12 pages")
        wait_for(lambda: queue_empty(aws), proc=worker)
        assert dlq_messages(aws) == [] and result(aws, "incoming/long.pdf") is None
    finally:
        stop(worker)


class FakeAgent:
    """The ECS agent's task-protection endpoint, recording what the worker asks for."""

    def __init__(self):
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        calls = self.calls = []

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_PUT(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                calls.append((self.path, body))
                answer = json.dumps({"protection": {"ProtectionEnabled": body["ProtectionEnabled"]}}).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.uri = f"http://127.0.0.1:{self.server.server_address[1]}/api/task-id"


def test_a_busy_task_is_protected_from_scale_in_and_released_when_idle(aws, warm_cache, mirror):
    agent = FakeAgent()
    worker = start_worker(aws, warm_cache, mirror, ECS_AGENT_URI=agent.uri, OCR_MAX_DOCUMENT_SECONDS="600")
    try:
        submit(aws, "incoming/doc.png", encode(text_image(INVOICE), "PNG"))
        wait_for(lambda: result(aws, "incoming/doc.png"), proc=worker)
        wait_for(lambda: len(agent.calls) == 2, proc=worker)
    finally:
        stop(worker)
        agent.server.shutdown()
    path = "/api/task-id/task-protection/v1/state"
    # Protected for the slowest allowed document plus its upload: ceil((600 + 120) / 60) minutes.
    assert agent.calls == [(path, {"ProtectionEnabled": True, "ExpiresInMinutes": 12}),
                           (path, {"ProtectionEnabled": False})]


def test_worker_config_error_is_one_line(warm_cache, mirror):
    env = worker_env(warm_cache, mirror / "models.lock.json", "official")
    env.pop("OCR_QUEUE_URL", None)
    proc = subprocess.run([sys.executable, "-m", "ocr_worker", "worker"], env=env, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 2
    assert proc.stdout.strip().splitlines() == [line for line in proc.stdout.strip().splitlines() if line.startswith("{")]
    assert [json.loads(line)["message"] for line in proc.stdout.splitlines()] == ["config error: OCR_QUEUE_URL is not set"]
    assert "Traceback" not in proc.stderr

