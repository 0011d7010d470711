"""DocumentPipeline: input bucket -> encrypted jobs queue with a DLQ -> output bucket."""

import json

import pytest

from constructs_lib.documents import DocumentPipeline, DocumentPipelineProps
from constructs_lib.framework import aws
from tests.synth import (
    assert_refused,
    data_sources,
    load_stack,
    new_stack,
    one,
    policy_statements,
    resources,
    role_policies,
    settings,
    synth_app,
    synth_stack,
)


def test_queue_and_dlq_are_encrypted_with_redrive(service_doc):
    queues = {q["name"]: q for q in resources(service_doc, "aws_sqs_queue")}
    jobs, dlq = queues["sabuho-paddleocr-jobs"], queues["sabuho-paddleocr-jobs-dlq"]
    assert jobs["sqs_managed_sse_enabled"] is True and dlq["sqs_managed_sse_enabled"] is True
    redrive = json.loads(jobs["redrive_policy"])
    # Only crashes reach the redrive: every handled outcome deletes the message it received.
    assert redrive["maxReceiveCount"] == 5 and redrive["deadLetterTargetArn"].startswith("${aws_sqs_queue.")
    assert jobs["visibility_timeout_seconds"] == 120  # the worker's lease


def test_queue_and_dlq_refuse_requests_without_tls(service_doc):
    policies = resources(service_doc, "aws_sqs_queue_policy")
    assert len(policies) == 2  # the jobs queue and the dead-letter queue
    for policy in policies:
        deny = next(st for st in policy_statements(service_doc, policy["policy"]) if st["sid"] == "DenyWithoutTls")
        assert deny["effect"] == "Deny" and deny["actions"] == ["sqs:*"]
        assert deny["condition"] == [{"test": "Bool", "variable": "aws:SecureTransport", "values": ["false"]}]


def test_input_bucket_notifies_the_queue_on_the_input_prefix(service_doc):
    note = one(resources(service_doc, "aws_s3_bucket_notification"))
    [queue] = note["queue"]
    assert queue["events"] == ["s3:ObjectCreated:*"] and queue["filter_prefix"] == "incoming/"
    policies = resources(service_doc, "aws_sqs_queue_policy")
    statements = policy_statements(service_doc, next(p for p in policies if "dlq" not in p["queue_url"])["policy"])
    send = next(s for s in statements if s["sid"] == "InputBucketNotifications")
    assert send["principals"] == [{"type": "Service", "identifiers": ["s3.amazonaws.com"]}]
    assert {c["variable"] for c in send["condition"]} == {"aws:SourceArn", "aws:SourceAccount"}


def test_existing_input_bucket_is_adopted(tmp_path):
    doc = load_stack(synth_app(tmp_path, settings(documents={"existing_input_bucket": "scans"})), "service")
    assert len(resources(doc, "aws_s3_bucket")) == 1  # the output bucket only
    assert one(data_sources(doc, "aws_s3_bucket"))["bucket"] == "scans"


def test_document_buckets_keep_their_objects_unless_force_destroy_is_set(service_doc, tmp_path):
    buckets = resources(service_doc, "aws_s3_bucket")
    assert len(buckets) == 2 and all(b["force_destroy"] is False for b in buckets)
    forced = load_stack(synth_app(tmp_path, settings(documents={"force_destroy": True})), "service")
    assert all(b["force_destroy"] is True for b in resources(forced, "aws_s3_bucket"))


def test_worker_grants_are_consume_read_input_and_write_output_exactly():
    stack = new_stack()
    documents = DocumentPipeline(stack, "documents", project="teamb", account_id="111122223333")
    role = aws.iam_role.IamRole(stack, "role", name="r", assume_role_policy="{}")
    added = documents.grant_process(role)
    assert [p.node.scope.node.id for p in added] == [
        "role-grant-documents-queue", "role-grant-documents-read-input", "role-grant-documents-results"]
    doc = synth_stack(stack)
    assert sorted(q["name"] for q in resources(doc, "aws_sqs_queue")) == ["teamb-paddleocr-jobs", "teamb-paddleocr-jobs-dlq"]
    assert set(role_policies(doc, "role")) == {"documents-queue", "documents-read-input", "documents-results"}


BAD_PROPS = {
    "prefix without slash": (dict(input_prefix="incoming"), "input_prefix: 'incoming' must be relative, end with '/'"),
    "absolute prefix": (dict(output_prefix="/results/"), "output_prefix: '/results/' must be relative"),
    # https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html
    "receive count over 1000": (dict(max_receive_count=1001), "max_receive_count: must be between 1 and 1000"),
    "document seconds too short": (dict(max_document_seconds=10), "max_document_seconds: must be between 30 and 21600"),
    "too many pages": (dict(max_pages=10_001), "max_pages: must be between 1 and 10000"),
    # Two local copies must fit Fargate's default 20 GiB of ephemeral storage.
    "too many bytes": (dict(max_bytes=6 * 1024 ** 3), "max_bytes: must be between 1048576 (1 MiB) and"),
    "no pages per part": (dict(pages_per_part=0), "pages_per_part: must be between 1 and 1000"),
    "input bucket name": (dict(existing_input_bucket="Scans"), "existing_input_bucket: 'Scans' is not valid"),
    # https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html: 80 characters
    "queue name too long": (dict(name="q" * 75), "name: '" + "q" * 75 + "-jobs-dlq' must be 1-80 characters"),
    "bucket prefix too long": (dict(name="d" * 40), "name: '" + "d" * 40 + "' is too long: '<name>-out-' must fit"),
}


@pytest.mark.parametrize("props,message", BAD_PROPS.values(), ids=BAD_PROPS.keys())
def test_props_refuse_what_s3_and_sqs_refuse(props, message):
    assert_refused(DocumentPipelineProps, props, message)


def test_long_documents_are_read_in_parts_whose_records_expire(service_doc):
    """The worker gets the limits and the part size; the output bucket expires the part records
    (ocr_worker.parts) after PART_DAYS, and their old versions a day later."""
    from constructs_lib.documents import PART_DAYS

    [task] = resources(service_doc, "aws_ecs_task_definition")
    worker = next(c for c in json.loads(task["container_definitions"]) if c["name"] == "ocr-worker")
    env = {e["name"]: e["value"] for e in worker["environment"]}
    assert (env["OCR_MAX_PAGES"], env["OCR_MAX_BYTES"], env["OCR_PAGES_PER_PART"]) == ("3000", str(500 * 1024 ** 2), "20")
    rules = [r for lc in resources(service_doc, "aws_s3_bucket_lifecycle_configuration") for r in lc["rule"]
             if r.get("filter", [{}])[0].get("prefix") == "results/.parts/"]
    assert len(rules) == 1 and rules[0]["expiration"] == [{"days": PART_DAYS}]
    assert rules[0]["noncurrent_version_expiration"] == [{"noncurrent_days": 1}]
