"""`worker` against a real moto server (S3 and SQS on 127.0.0.1), as a real process."""

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest

from tests.worker.conftest import worker_env
from tests.worker.docs import INVOICE, PAGE_TWO, encode, text_image, two_page_pdf

pytestmark = [pytest.mark.moto, pytest.mark.ocr, pytest.mark.slow]
AWS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.fixture(scope="module")
def moto():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    exe = Path(sys.executable).with_name("moto_server")
    proc = subprocess.Popen([str(exe), "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert time.monotonic() < deadline, "moto server did not start"
            time.sleep(0.2)
    yield endpoint
    proc.terminate()
    proc.wait(timeout=30)


@pytest.fixture
def aws(moto, monkeypatch):
    for key, value in {**AWS, "AWS_ENDPOINT_URL": moto}.items():
        monkeypatch.setenv(key, value)
    s3, sqs = boto3.client("s3"), boto3.client("sqs")
    suffix = str(time.monotonic_ns())
    s3.create_bucket(Bucket=f"in-{suffix}")
    s3.create_bucket(Bucket=f"out-{suffix}")
    dlq = sqs.create_queue(QueueName=f"dlq-{suffix}")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue = sqs.create_queue(QueueName=f"jobs-{suffix}", Attributes={
        "VisibilityTimeout": "60",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"})})["QueueUrl"]
    return {"s3": s3, "sqs": sqs, "in": f"in-{suffix}", "out": f"out-{suffix}", "queue": queue, "dlq": dlq,
            "endpoint": moto}


def start_worker(aws, warm_cache, mirror):
    env = worker_env(warm_cache, mirror / "models.lock.json", f"file://{mirror}", **AWS,
                     AWS_ENDPOINT_URL=aws["endpoint"], OCR_QUEUE_URL=aws["queue"], OCR_OUTPUT_BUCKET=aws["out"],
                     OCR_OUTPUT_PREFIX="results/", OCR_WAIT_SECONDS="1", OCR_RETRY_DELAY="0",
                     OCR_VISIBILITY_TIMEOUT="60")
    return subprocess.Popen([sys.executable, "-m", "ocr_worker", "worker"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def submit(aws, key, data, s3_event=True):
    aws["s3"].put_object(Bucket=aws["in"], Key=key, Body=data)
    body = ({"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": aws["in"]},
                                                                     "object": {"key": key.replace(" ", "+")}}}]}
            if s3_event else {"bucket": aws["in"], "key": key})
    aws["sqs"].send_message(QueueUrl=aws["queue"], MessageBody=json.dumps(body))


def result(aws, key):
    try:
        body = aws["s3"].get_object(Bucket=aws["out"], Key=f"results/{key}.json")["Body"].read()
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


def dlq_bodies(aws):
    messages = aws["sqs"].receive_message(QueueUrl=aws["dlq"], MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


def test_document_in_result_out(aws, warm_cache, mirror):
    worker = start_worker(aws, warm_cache, mirror)
    try:
        submit(aws, "scans/invoice 1.png", encode(text_image(INVOICE), "PNG"))
        out = wait_for(lambda: result(aws, "scans/invoice 1.png"), proc=worker)
        assert [line["text"] for line in out["pages"][0]["lines"]] == [INVOICE]
        assert out["source"] == {"bucket": aws["in"], "key": "scans/invoice 1.png"}
        assert out["models"] == ["PP-OCRv5_mobile_det", "PP-OCRv5_mobile_rec"]
        attrs = aws["sqs"].get_queue_attributes(QueueUrl=aws["queue"], AttributeNames=["All"])["Attributes"]
        wait_for(lambda: aws["sqs"].get_queue_attributes(QueueUrl=aws["queue"], AttributeNames=["All"])[
            "Attributes"]["ApproximateNumberOfMessagesNotVisible"] == "0")
        assert attrs["ApproximateNumberOfMessages"] == "0"
    finally:
        worker.terminate()
        worker.wait(timeout=60)


def test_every_document_ends_as_a_result_or_in_the_dlq(aws, warm_cache, mirror):
    worker = start_worker(aws, warm_cache, mirror)
    try:
        submit(aws, "bad.pdf", b"%PDF-1.7 this is not a PDF", s3_event=False)
        good = [f"doc-{i}.png" for i in range(3)]
        for key in good:
            submit(aws, key, encode(text_image(INVOICE), "PNG"), s3_event=False)
        wait_for(lambda: all(result(aws, key) for key in good), proc=worker)
        # the corrupt one is received twice (maxReceiveCount 2), then moved to the DLQ by the queue
        dead = wait_for(lambda: dlq_bodies(aws), proc=worker)
        assert dead == [{"bucket": aws["in"], "key": "bad.pdf"}]
        assert result(aws, "bad.pdf") is None
        assert worker.poll() is None  # still running
    finally:
        worker.terminate()
        out = worker.communicate(timeout=60)[0]
    failures = [json.loads(line) for line in out.splitlines() if line.startswith("{") and "document failed" in line]
    assert len(failures) >= 2 and all("unreadable PDF" in f["error"] for f in failures)


def test_sigterm_finishes_the_current_document_then_exits_zero(aws, warm_cache, mirror):
    worker = start_worker(aws, warm_cache, mirror)
    submit(aws, "two-pages.pdf", two_page_pdf())
    for line in worker.stdout:
        if line.startswith("{") and json.loads(line)["message"] == "processing":
            worker.send_signal(signal.SIGTERM)
            break
    out = worker.communicate(timeout=120)[0]
    assert worker.returncode == 0, out
    done = result(aws, "two-pages.pdf")
    assert [[line["text"] for line in p["lines"]] for p in done["pages"]] == [[INVOICE], [PAGE_TWO]]
    assert '"message": "stopped"' in out
    assert aws["sqs"].get_queue_attributes(QueueUrl=aws["queue"], AttributeNames=["All"])["Attributes"][
        "ApproximateNumberOfMessages"] == "0"


def test_worker_config_error_is_one_line(warm_cache, mirror):
    env = worker_env(warm_cache, mirror / "models.lock.json", "official")
    env.pop("OCR_QUEUE_URL", None)
    proc = subprocess.run([sys.executable, "-m", "ocr_worker", "worker"], env=env, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 2
    assert proc.stdout.strip().splitlines() == [line for line in proc.stdout.strip().splitlines() if line.startswith("{")]
    assert [json.loads(line)["message"] for line in proc.stdout.splitlines()] == ["config error: OCR_QUEUE_URL is not set"]
    assert "Traceback" not in proc.stderr

