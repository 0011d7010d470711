"""The document pipeline: input bucket -> jobs queue (with a dead-letter queue) -> output bucket."""

from __future__ import annotations

import json

from cdktf_cdktf_provider_aws.data_aws_s3_bucket import DataAwsS3Bucket
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.s3_bucket_notification import S3BucketNotification, S3BucketNotificationQueue
from cdktf_cdktf_provider_aws.sqs_queue import SqsQueue
from cdktf_cdktf_provider_aws.sqs_queue_policy import SqsQueuePolicy
from constructs import Construct

from constructs_lib.config import DocumentSettings
from constructs_lib.policy import deny_without_tls, grant, policy_document, statement
from constructs_lib.secure_bucket import SecureBucket

#: The worker's lease on a message, renewed every third of it while it works: a document whose
#: worker crashed is visible again within this many seconds.
LEASE_SECONDS = 120
#: Receives that never end in a delete (the worker crashed on the document, e.g. out of memory)
#: before SQS moves the message to the DLQ. Every handled outcome deletes the message, so only
#: crashes count here; failed attempts are counted by the worker (max_receive_count).
CRASH_REDRIVE_RECEIVES = 5


class DocumentPipeline(Construct):
    """An input bucket (or an existing one) whose ObjectCreated events under ``input_prefix`` feed
    an SSE-encrypted jobs queue. The worker moves a message to the DLQ after ``max_receive_count``
    failed attempts, and the queue's redrive after CRASH_REDRIVE_RECEIVES crashed ones. Results go
    to a separate output bucket under ``output_prefix``."""

    def __init__(self, scope: Construct, id: str, *, settings: DocumentSettings, name: str,
                 account_id: str) -> None:
        super().__init__(scope, id)
        self.settings = settings
        if settings.existing_input_bucket:
            existing = DataAwsS3Bucket(self, "input", bucket=settings.existing_input_bucket)
            self.input_bucket_name, self.input_bucket_arn = existing.bucket, existing.arn
        else:
            created = SecureBucket(self, "input", bucket_prefix=f"{name}-in-", force_destroy=settings.force_destroy)
            self.input_bucket_name, self.input_bucket_arn = created.bucket.bucket, created.bucket.arn
        self.output = SecureBucket(self, "output", bucket_prefix=f"{name}-out-", force_destroy=settings.force_destroy)

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
                                      filter_prefix=settings.input_prefix)])

    def grant_process(self, role: IamRole) -> list[IamRolePolicy]:
        """Exactly what the worker needs: consume the queue, requeue to it and dead-letter to the
        DLQ (sqs:SendMessage), read inputs, write results."""
        return [
            grant(self, role, "documents-queue", [
                statement("ConsumeJobs", ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"],
                          [self.queue.arn]),
                statement("RequeueAndDeadLetter", ["sqs:SendMessage"], [self.queue.arn, self.dlq.arn])]),
            grant(self, role, "documents-read-input", [statement(
                "ReadInput", ["s3:GetObject"], [f"{self.input_bucket_arn}/{self.settings.input_prefix}*"])]),
            self.output.grant_put(role, self.settings.output_prefix, "documents-write-output"),
        ]
