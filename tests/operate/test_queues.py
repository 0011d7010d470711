"""The re-drive resets the worker's failure count; SQS's own move would keep it."""

import pytest
from ocr_worker.jobqueue import FAILURES as WORKER_FAILURES
from ocr_worker.jobqueue import failures_of

from constructs_lib.operate import queues

pytestmark = pytest.mark.moto


def dead_letters(sqs, deployment, count):
    for i in range(count):
        sqs.send_message(QueueUrl=deployment.dlq_url, MessageBody=f'{{"bucket": "b", "key": "k{i}"}}',
                         MessageAttributes={WORKER_FAILURES: {"DataType": "Number", "StringValue": "3"},
                                            "team": {"DataType": "String", "StringValue": "ops"}})


def received(sqs, url):
    out = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"],
                                       VisibilityTimeout=60).get("Messages", []):
        out += batch
    return out


def test_redrive_moves_every_dead_letter_with_its_failure_count_reset(clients, deployment):
    sqs = clients["sqs"]
    assert queues.FAILURES == WORKER_FAILURES
    dead_letters(sqs, deployment, 13)
    assert queues.depths(sqs, deployment)["dead_letters"] == 13
    assert queues.redrive(sqs, deployment) == 13
    moved = received(sqs, deployment.queue_url)
    assert sorted(m["Body"] for m in moved) == sorted(f'{{"bucket": "b", "key": "k{i}"}}' for i in range(13))
    assert {failures_of(m) for m in moved} == {0}  # the worker gives each its full attempts again
    assert {m["MessageAttributes"]["team"]["StringValue"] for m in moved} == {"ops"}  # other attributes kept
    assert received(sqs, deployment.dlq_url) == []


def test_redrive_at_most_max(clients, deployment):
    dead_letters(clients["sqs"], deployment, 7)
    assert queues.redrive(clients["sqs"], deployment, limit=5) == 5
    assert queues.redrive(clients["sqs"], deployment) == 2
    assert queues.redrive(clients["sqs"], deployment) == 0


def test_depths(clients, deployment):
    sqs = clients["sqs"]
    for _ in range(3):
        sqs.send_message(QueueUrl=deployment.queue_url, MessageBody="{}")
    sqs.send_message(QueueUrl=deployment.queue_url, MessageBody="{}", DelaySeconds=600)
    sqs.receive_message(QueueUrl=deployment.queue_url, VisibilityTimeout=60)
    assert queues.depths(sqs, deployment) == {"waiting": 2, "in_flight": 1, "delayed": 1, "dead_letters": 0}
