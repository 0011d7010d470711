"""The job queue and its dead-letter queue: depths, and the re-drive.

SQS's own re-drive (StartMessageMoveTask) keeps each message's attributes, and with them the
worker's count of failed attempts (``ocr-failures``): a re-driven document would get one attempt
and go straight back. This re-drive sends each body again without that count.
"""

from __future__ import annotations

from typing import Optional

from constructs_lib.operate.deployment import Deployment, OperatorError

#: The worker's message attribute that counts failed attempts (image/ocr_worker/jobqueue.py).
FAILURES = "ocr-failures"
#: Seconds a received DLQ message stays hidden while it is moved: if this command dies between
#: the send and the delete, it reappears, and the worker's once-per-version result keeps the
#: duplicate harmless.
MOVE_LEASE = 120


def depths(sqs, deployment: Deployment) -> dict[str, int]:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
             "ApproximateNumberOfMessagesDelayed"]
    jobs = sqs.get_queue_attributes(QueueUrl=deployment.queue_url, AttributeNames=names)["Attributes"]
    dlq = sqs.get_queue_attributes(QueueUrl=deployment.dlq_url, AttributeNames=names[:1])["Attributes"]
    return {"waiting": int(jobs[names[0]]), "in_flight": int(jobs[names[1]]), "delayed": int(jobs[names[2]]),
            "dead_letters": int(dlq[names[0]])}


def redrive(sqs, deployment: Deployment, limit: Optional[int] = None) -> int:
    """Move dead letters to the job queue with their failure count reset; how many moved."""
    moved = 0
    while limit is None or moved < limit:
        batch = min(10, limit - moved) if limit is not None else 10
        messages = sqs.receive_message(QueueUrl=deployment.dlq_url, MaxNumberOfMessages=batch, WaitTimeSeconds=1,
                                       VisibilityTimeout=MOVE_LEASE, MessageAttributeNames=["All"]).get("Messages", [])
        if not messages:
            break
        entries = []
        for index, message in enumerate(messages):
            attributes = {k: v for k, v in message.get("MessageAttributes", {}).items() if k != FAILURES}
            entries.append({"Id": str(index), "MessageBody": message["Body"],
                            **({"MessageAttributes": attributes} if attributes else {})})
        answer = sqs.send_message_batch(QueueUrl=deployment.queue_url, Entries=entries)
        sent = [messages[int(entry["Id"])] for entry in answer.get("Successful", [])]
        if sent:
            sqs.delete_message_batch(QueueUrl=deployment.dlq_url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(sent)])
        moved += len(sent)
        if failed := answer.get("Failed", []):
            raise OperatorError(f"{moved} moved, then the job queue refused {len(failed)} "
                                f"({failed[0].get('Code')}: {failed[0].get('Message', '')}); they stay in the "
                                "dead-letter queue and reappear in 2 minutes")
    return moved
