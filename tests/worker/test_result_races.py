"""Two workers racing on one key, in process: the conditional result write of
ocr_worker.worker, against moto with IAM enforced, as the task role. The fake engine plays the
other worker: it acts while "this" worker is between its checks and its write."""

import dataclasses
import json

import boto3
import pytest
from ocr_worker.jobs import Job
from ocr_worker.settings import load
from ocr_worker.worker import Worker

from tests.worker.docs import INVOICE, PAGE_TWO, encode, text_image

pytestmark = [pytest.mark.moto]


class OtherWorkerMeanwhile:
    """An engine whose OCR lets ``meanwhile`` run first, then reads ``text``."""

    def __init__(self, meanwhile, text=INVOICE):
        self.meanwhile, self.text = meanwhile, text

    def ocr_document(self, data, on_page=None, pages=None):
        self.meanwhile()
        return {"pages": [{"lines": [{"text": self.text}]}], "seconds": 0.1, "models": []}


def worker_as_role(aws, engine):
    env = aws["role_env"]
    clients = {name: boto3.client(name, endpoint_url=env["AWS_ENDPOINT_URL"], region_name="us-east-1",
                                  aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                                  aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
                                  aws_session_token=env["AWS_SESSION_TOKEN"]) for name in ("s3", "sqs")}
    config = dataclasses.replace(load("worker", {"OCR_QUEUE_URL": aws["queue"], "OCR_OUTPUT_BUCKET": aws["out"]}),
                                 dlq_url=aws["dlq"])
    return Worker(engine, config, sqs=clients["sqs"], s3=clients["s3"])


def upload(aws, key, text):
    version = aws["s3"].put_object(Bucket=aws["in"], Key=key, Body=encode(text_image(text), "PNG"))
    return Job(aws["in"], key, version["ETag"].strip('"'), version["VersionId"])


def result(aws, key):
    body = aws["s3"].get_object(Bucket=aws["out"], Key=f"results/{key}.json")["Body"].read()
    return json.loads(body)


def writes(aws, key):
    return len(aws["s3"].list_object_versions(Bucket=aws["out"], Prefix=f"results/{key}.json").get("Versions", []))


def test_a_stale_record_whose_key_is_overwritten_and_answered_while_it_is_read_writes_nothing(aws):
    key = "incoming/race.png"
    v1 = upload(aws, key, INVOICE)

    def newer_upload_answered_first():
        v2 = upload(aws, key, PAGE_TWO)
        worker_as_role(aws, OtherWorkerMeanwhile(lambda: None, PAGE_TWO)).reader.read(v2, {})

    worker_as_role(aws, OtherWorkerMeanwhile(newer_upload_answered_first)).reader.read(v1, {})
    assert result(aws, key)["pages"][0]["lines"][0]["text"] == PAGE_TWO and writes(aws, key) == 1


def test_a_stale_record_whose_key_is_overwritten_while_it_is_read_writes_nothing(aws):
    # The newer upload's own event is still queued: the stale result would stand until then.
    key = "incoming/race.png"
    v1 = upload(aws, key, INVOICE)
    worker_as_role(aws, OtherWorkerMeanwhile(lambda: upload(aws, key, PAGE_TWO))).reader.read(v1, {})
    assert writes(aws, key) == 0


def test_a_duplicate_delivery_answered_by_another_worker_meanwhile_is_written_once(aws):
    key = "incoming/twice.png"
    v1 = upload(aws, key, INVOICE)
    other = worker_as_role(aws, OtherWorkerMeanwhile(lambda: None))
    worker_as_role(aws, OtherWorkerMeanwhile(lambda: other.reader.read(v1, {}))).reader.read(v1, {})
    assert result(aws, key)["source"]["version"] == v1.version and writes(aws, key) == 1
