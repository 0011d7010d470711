"""The in-process kit of the worker's rule tests: the real Worker, a fake engine over the real
decoder, and moto's in-process S3 and SQS (versioned buckets, conditional writes)."""

import dataclasses
import json

import boto3
import pytest
from moto import mock_aws
from ocr_worker.documents import Document, PageError
from ocr_worker.jobqueue import FAILURES
from ocr_worker.protection import TaskProtection
from ocr_worker.settings import load
from ocr_worker.worker import Worker

from tests.worker.docs import INVOICE, encode, pdf_of, text_image

IN, OUT = "ocr-in", "ocr-out"
PNG = encode(text_image(INVOICE), "PNG")
THREE_PAGES = pdf_of([INVOICE, INVOICE, INVOICE])


class FakeEngine:
    """Decodes every page of the document with the worker's own decoder (``documents.Document``,
    which refuses unreadable and encrypted documents), "reads" each without a model and calls
    ``on_page`` after it, as OcrEngine does; ``during(page)`` runs first, to stop or fail."""

    model_names = ["fake-det", "fake-rec"]
    cpu_threads, load_seconds = 1, 0.0

    def __init__(self, during=None):
        self.during, self.calls = during, 0

    def ocr_document(self, source, on_page=None, pages=None):
        self.calls += 1
        self.parts = getattr(self, "parts", []) + [pages]
        read = []
        with Document(source, pages=pages) as document:
            for done, page in enumerate(document, 1):
                number = document.first + done - 1
                if self.during:
                    self.during(number - 1)
                assert not isinstance(page, PageError), page
                read.append({"page": number, "lines": [{"text": f"{INVOICE} {number}", "score": 0.99, "box": []}]})
                if on_page:
                    on_page(done, len(document))
        return {"pages": read, "models": self.model_names, "seconds": 0.0}


class RecordingProtection(TaskProtection):
    """TaskProtection without an ECS agent, remembering each call (test_queue_worker.py runs the
    real one against a fake agent over HTTP)."""

    def __init__(self):
        super().__init__(None, 600)
        self.calls = []

    def protect(self):
        self.calls.append("protect")

    def release(self):
        self.calls.append("release")


@pytest.fixture
def aws(monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        s3, sqs = boto3.client("s3"), boto3.client("sqs")
        for bucket in (IN, OUT):
            s3.create_bucket(Bucket=bucket)
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        queue = sqs.create_queue(QueueName="jobs")["QueueUrl"]
        dlq = sqs.create_queue(QueueName="jobs-dlq")["QueueUrl"]
        yield {"s3": s3, "sqs": sqs, "queue": queue, "dlq": dlq, "folder": tmp_path}


def make_worker(aws, engine=None, **config):
    protection = RecordingProtection()
    settings = dataclasses.replace(load("worker", {"OCR_QUEUE_URL": aws["queue"], "OCR_OUTPUT_BUCKET": OUT}), **{
        "dlq_url": aws["dlq"], "retry_delay": 0, "heartbeat_file": str(aws["folder"] / "beat"), **config})
    worker = Worker(engine or FakeEngine(), settings, sqs=aws["sqs"], s3=aws["s3"], protection=protection)
    return worker, protection


def upload(aws, key, data):
    """Put ``data`` and return its S3 event record, as the bucket notification sends it."""
    put = aws["s3"].put_object(Bucket=IN, Key=key, Body=data)
    return {"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": IN}, "object": {
        "key": key, "eTag": put["ETag"].strip('"'), "versionId": put["VersionId"]}}}


def send(aws, body, failures=None):
    attributes = {FAILURES: {"DataType": "Number", "StringValue": str(failures)}} if failures is not None else {}
    aws["sqs"].send_message(QueueUrl=aws["queue"], MessageBody=json.dumps(body), MessageAttributes=attributes)


def receive(aws, queue="queue"):
    """The one message waiting on ``queue``, or None."""
    messages = aws["sqs"].receive_message(QueueUrl=aws[queue], MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                          MessageAttributeNames=["All"], AttributeNames=["All"]).get("Messages", [])
    assert len(messages) <= 1, messages
    return messages[0] if messages else None


def handle_next(worker, aws):
    message = receive(aws)
    assert message is not None, "no message to handle"
    return worker.handle(message)


def written(aws, key):
    """Result versions written for ``key``: {"result": n, "error": n}."""
    versions = aws["s3"].list_object_versions(Bucket=OUT, Prefix=f"results/{key}").get("Versions", [])
    return {"result": sum(v["Key"] == f"results/{key}.json" for v in versions),
            "error": sum(v["Key"] == f"results/{key}.error.json" for v in versions)}


def error_of(aws, key):
    return json.loads(aws["s3"].get_object(Bucket=OUT, Key=f"results/{key}.error.json")["Body"].read())["error"]


def failures_of(message):
    return int(message["MessageAttributes"][FAILURES]["StringValue"])
