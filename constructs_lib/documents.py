"""The document pipeline: input bucket -> jobs queue (with a dead-letter queue) -> output bucket."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Optional

from constructs import Construct

from constructs_lib import validation
from constructs_lib.framework import aws
from constructs_lib.metrics import Metric
from constructs_lib.naming import Names
from constructs_lib.policy import Role, Statement, deny_without_tls, grant, policy_document, statement
from constructs_lib.secure_bucket import MAX_BUCKET_PREFIX, SecureBucket, SecureBucketProps
from constructs_lib.validation import Props, check

DataAwsS3Bucket = aws.data_aws_s3_bucket.DataAwsS3Bucket
IamRolePolicy = aws.iam_role_policy.IamRolePolicy
S3BucketNotification = aws.s3_bucket_notification.S3BucketNotification
S3BucketNotificationQueue = aws.s3_bucket_notification.S3BucketNotificationQueue
SqsQueue = aws.sqs_queue.SqsQueue
SqsQueuePolicy = aws.sqs_queue_policy.SqsQueuePolicy

#: The worker's lease on a message, renewed every third of it while it works: a document whose
#: worker crashed is visible again within this many seconds.
LEASE_SECONDS = 120
#: Receives that never end in a delete (the worker crashed on the document, e.g. out of memory)
#: before SQS moves the message to the DLQ. Every handled outcome deletes the message, so only
#: crashes count here; failed attempts are counted by the worker (max_receive_count).
CRASH_REDRIVE_RECEIVES = 5
#: Days the part records of a long document are kept under ``<output_prefix>.parts/``: the merged
#: result has their pages, and a failed part's records wait this long for a redrive.
PART_DAYS = 7
#: The largest document the worker takes: two local copies of it must fit the task's scratch
#: volume, Fargate's default 20 GiB of ephemeral storage ("Fargate task ephemeral storage").
MAX_DOCUMENT_BYTES = 5 * 1024 ** 3


@dataclass(frozen=True)
class DocumentPipelineProps(Props):
    """Input and output buckets and the job queue.

    Attributes:
        name: Prefix of the bucket and queue names. Default ``<project>-paddleocr``: buckets
            ``<name>-in-<suffix>`` and ``<name>-out-<suffix>``, queues ``<name>-jobs`` and
            ``<name>-jobs-dlq``.
        existing_input_bucket: Use this existing bucket for input instead of creating one.
        input_prefix: Documents put under this key prefix are queued. Default ``incoming/``.
        output_prefix: Results are written under this key prefix. Default ``results/``.
        max_receive_count: Failed attempts (S3 or SQS outages, bugs) before the worker moves a
            message to the dead-letter queue, 1 to 1000. Interruptions never count; bad documents
            get an error result at once. Default 3.
        max_document_seconds: Worst-case seconds to OCR one document, or one part of a long one,
            30 to 21600: a longer one gets an error result, and a busy task's scale-in protection
            lasts this plus two minutes. Default 600.
        max_pages: Pages of one document, 1 to 10000. Default 3000 (Amazon Textract's
            asynchronous limit).
        max_bytes: Bytes of one document, 1 MiB to 5 GiB. Default 500 MiB.
        pages_per_part: A longer document is read in parts of this many pages, each a job of
            its own that any task takes, 1 to 1000. Default 20 (about 30 s at the default tier).
        force_destroy: Let ``destroy`` delete the input and output buckets with every object
            version in them. Default off: empty them first, so no document is lost by accident.
    """

    name: Optional[str] = None
    existing_input_bucket: Optional[str] = None
    input_prefix: str = "incoming/"
    output_prefix: str = "results/"
    max_receive_count: int = 3
    max_document_seconds: int = 600
    max_pages: int = 3000
    max_bytes: int = 500 * 1024 * 1024
    pages_per_part: int = 20
    force_destroy: bool = False

    def validate(self) -> None:
        if self.name is not None:
            # The longest queue name is <name>-jobs-dlq (SQS: 80), the longest bucket prefix
            # <name>-out- (Terraform's bucket_prefix: 37).
            validation.sqs_queue_name("name", f"{self.name}-jobs-dlq")
            check(len(f"{self.name}-out-") <= MAX_BUCKET_PREFIX, "name",
                  f"{self.name!r} is too long: '<name>-out-' must fit the {MAX_BUCKET_PREFIX}-character bucket prefix")
            validation.s3_bucket_name("name", f"{self.name}-out-x")
        if self.existing_input_bucket is not None:
            validation.s3_bucket_name("existing_input_bucket", self.existing_input_bucket)
        for key in ("input_prefix", "output_prefix"):
            prefix = getattr(self, key)
            # Object keys are at most 1024 bytes of UTF-8:
            # https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-keys.html
            check(prefix.endswith("/") and not prefix.startswith("/") and len(prefix.encode()) <= 512, key,
                  f"{prefix!r} must be relative, end with '/' and fit an S3 key")
        # SQS maxReceiveCount: 1 to 1000 (redrive policy).
        # https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html
        check(1 <= self.max_receive_count <= 1000, "max_receive_count", "must be between 1 and 1000")
        check(30 <= self.max_document_seconds <= 6 * 3600, "max_document_seconds", "must be between 30 and 21600")
        check(1 <= self.max_pages <= 10_000, "max_pages", "must be between 1 and 10000")
        check(1024 ** 2 <= self.max_bytes <= MAX_DOCUMENT_BYTES, "max_bytes",
              f"must be between 1048576 (1 MiB) and {MAX_DOCUMENT_BYTES} (5 GiB)")
        check(1 <= self.pages_per_part <= 1000, "pages_per_part", "must be between 1 and 1000")


class DocumentPipeline(Construct):
    """An input bucket (or an existing one) whose ObjectCreated events under ``input_prefix`` feed
    an SSE-encrypted jobs queue. The worker moves a message to the DLQ after ``max_receive_count``
    failed attempts, and the queue's redrive after CRASH_REDRIVE_RECEIVES crashed ones. Results go
    to a separate output bucket under ``output_prefix``."""

    def __init__(self, scope: Construct, id: str, props: Optional[DocumentPipelineProps] = None, *, project: str,
                 account_id: str) -> None:
        """``project`` derives the names; ``account_id`` scopes the queue policy to this account's
        bucket. Attributes: ``queue`` and ``dlq`` (SqsQueue), ``output`` (SecureBucket),
        ``input_bucket_name``, ``input_bucket_arn``, ``props``."""
        super().__init__(scope, id)
        props = self.props = props or DocumentPipelineProps()
        name = props.name or Names(project).prefix
        if props.existing_input_bucket:
            existing = DataAwsS3Bucket(self, "input", bucket=props.existing_input_bucket)
            self.input_bucket_name, self.input_bucket_arn = existing.bucket, existing.arn
        else:
            created = SecureBucket(self, "input", SecureBucketProps(bucket_prefix=f"{name}-in-",
                                                                  force_destroy=props.force_destroy))
            self.input_bucket_name, self.input_bucket_arn = created.bucket.bucket, created.bucket.arn
        self.output = SecureBucket(self, "output", SecureBucketProps(
            bucket_prefix=f"{name}-out-", force_destroy=props.force_destroy,
            expiring_prefixes=((f"{props.output_prefix}.parts/", PART_DAYS),)))

        self.dlq = SqsQueue(self, "dlq", name=f"{name}-jobs-dlq", sqs_managed_sse_enabled=True,
                            message_retention_seconds=14 * 24 * 3600)
        self.queue = SqsQueue(
            self, "queue", name=f"{name}-jobs", sqs_managed_sse_enabled=True,
            visibility_timeout_seconds=LEASE_SECONDS,
            message_retention_seconds=4 * 24 * 3600, receive_wait_time_seconds=20,
            redrive_policy=json.dumps({"deadLetterTargetArn": self.dlq.arn,
                                       "maxReceiveCount": CRASH_REDRIVE_RECEIVES}))
        from_bucket = policy_document(self, "queue-policy", [
            statement("InputBucketNotifications", ["sqs:SendMessage"], [self.queue.arn],
                      principals={"Service": ["s3.amazonaws.com"]},
                      conditions=[("ArnEquals", "aws:SourceArn", [self.input_bucket_arn]),
                                  ("StringEquals", "aws:SourceAccount", [account_id])]),
            deny_without_tls(["sqs:*"], [self.queue.arn]),
        ])
        policy = SqsQueuePolicy(self, "queue-policy-attachment", queue_url=self.queue.url, policy=from_bucket.json)
        # SSE does not refuse plain HTTP; the DLQ holds the same documents' keys as the queue.
        dlq_tls = policy_document(self, "dlq-policy", [deny_without_tls(["sqs:*"], [self.dlq.arn])])
        SqsQueuePolicy(self, "dlq-policy-attachment", queue_url=self.dlq.url, policy=dlq_tls.json)
        S3BucketNotification(self, "notification", bucket=self.input_bucket_name, depends_on=[policy], queue=[
            S3BucketNotificationQueue(queue_arn=self.queue.arn, events=["s3:ObjectCreated:*"],
                                      filter_prefix=props.input_prefix)])

    @property
    def worker_environment(self) -> dict[str, str]:
        """What the worker needs to find this pipeline, for ``OcrService(environment=...)``."""
        return {
            "OCR_QUEUE_URL": self.queue.url,
            "OCR_DLQ_URL": self.dlq.url,
            "OCR_OUTPUT_BUCKET": self.output.bucket.bucket,
            "OCR_OUTPUT_PREFIX": self.props.output_prefix,
            "OCR_VISIBILITY_TIMEOUT": str(LEASE_SECONDS),
            "OCR_MAX_FAILURES": str(self.props.max_receive_count),
            "OCR_MAX_DOCUMENT_SECONDS": str(self.props.max_document_seconds),
            "OCR_MAX_PAGES": str(self.props.max_pages),
            "OCR_MAX_BYTES": str(self.props.max_bytes),
            "OCR_PAGES_PER_PART": str(self.props.pages_per_part),
        }

    # -- metrics (AWS/SQS) ---------------------------------------------------------------------

    def metric_visible(self, stat: str = "Sum") -> Metric:
        """Jobs waiting in the queue."""
        return Metric("AWS/SQS", "ApproximateNumberOfMessagesVisible", {"QueueName": self.queue.name}, stat)

    def metric_in_flight(self, stat: str = "Sum") -> Metric:
        """Jobs a worker holds (received, not yet deleted)."""
        return Metric("AWS/SQS", "ApproximateNumberOfMessagesNotVisible", {"QueueName": self.queue.name}, stat)

    def metric_oldest_age(self, stat: str = "Maximum") -> Metric:
        """Seconds the oldest waiting job has waited."""
        return Metric("AWS/SQS", "ApproximateAgeOfOldestMessage", {"QueueName": self.queue.name}, stat)

    def metric_dead_letters(self, stat: str = "Maximum") -> Metric:
        """Jobs in the dead-letter queue."""
        return Metric("AWS/SQS", "ApproximateNumberOfMessagesVisible", {"QueueName": self.dlq.name}, stat)

    # -- grants --------------------------------------------------------------------------------

    def grant_consume(self, role: Role) -> IamRolePolicy:
        """Take jobs from the queue and finish them: receive, delete, extend the lease, requeue
        (sqs:SendMessage to the queue) and dead-letter (to the DLQ)."""
        return grant(role, "documents-queue", [
            statement("ConsumeJobs", ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"],
                      [self.queue.arn]),
            statement("RequeueAndDeadLetter", ["sqs:SendMessage"], [self.queue.arn, self.dlq.arn])])

    def grant_read_input(self, role: Role) -> IamRolePolicy:
        """Read the documents under the input prefix, and learn when one is missing.

        - ``s3:GetObject``: HeadObject of the current version, GetObject without a version.
        - ``s3:GetObjectVersion``: GetObject with the ``VersionId`` of the event record (the
          bucket is versioned). S3 authorizes a request that names a version as this action, not
          as GetObject (GetObject API reference, "Permissions"; "Actions, resources, and condition
          keys for Amazon S3").
        - ``s3:ListBucket`` on the bucket: without it S3 answers 403, not 404, for a key that does
          not exist (HeadObject API reference, "Permissions"), so a deleted document would look
          like an outage and be retried into the DLQ. No ``s3:prefix`` condition: AWS does not
          document which prefix that check sees, and a wrong guess turns every 404 back into 403.
          It lists key names only, never object data."""
        return grant(role, "documents-read-input", [
            statement("ReadInput", ["s3:GetObject", "s3:GetObjectVersion"],
                      [f"{self.input_bucket_arn}/{self.props.input_prefix}*"]),
            statement("MissingInputIs404", ["s3:ListBucket"], [self.input_bucket_arn])])

    def operator_statements(self) -> list[Statement]:
        """What ``paddleocr-efs`` needs of the documents (``constructs_lib/operate``).

        - ``s3:PutObject`` under the input prefix (``submit``) and ``s3:GetObject`` there
          (``result``'s HeadObject of the key's current version); ``s3:ListBucket`` on the input
          bucket, so a key that does not exist answers 404, not 403 (HeadObject API reference,
          "Permissions").
        - ``s3:GetObject`` under the output prefix: results, error results and a long document's
          ``progress.json``; ``s3:ListBucket`` on the output bucket: ``status`` lists the error
          results, and a result not written yet answers 404 while waiting.
        - ``sqs:GetQueueAttributes`` on both queues (the depths); for ``redrive``,
          ``sqs:ReceiveMessage`` and ``sqs:DeleteMessage`` on the dead-letter queue and
          ``sqs:SendMessage`` on the job queue (SendMessageBatch and DeleteMessageBatch are
          authorized as those actions: Amazon SQS API Reference, SendMessageBatch and
          DeleteMessageBatch, "Permissions")."""
        output = self.output.bucket.arn
        return [
            statement("SubmitAndLookUpDocuments", ["s3:PutObject", "s3:GetObject"],
                      [f"{self.input_bucket_arn}/{self.props.input_prefix}*"]),
            statement("ReadResults", ["s3:GetObject"], [f"{output}/{self.props.output_prefix}*"]),
            statement("ListDocumentsAndResults", ["s3:ListBucket"], [self.input_bucket_arn, output]),
            statement("QueueDepths", ["sqs:GetQueueAttributes"], [self.queue.arn, self.dlq.arn]),
            statement("RedriveFromDeadLetters", ["sqs:ReceiveMessage", "sqs:DeleteMessage"], [self.dlq.arn]),
            statement("RedriveToJobs", ["sqs:SendMessage"], [self.queue.arn])]

    def grant_process(self, role: Role) -> list[IamRolePolicy]:
        """Exactly what the worker needs: consume the queue, read inputs, read and write results."""
        return [self.grant_consume(role), self.grant_read_input(role),
                self.output.grant_read_write(role, self.props.output_prefix, "documents-results")]
