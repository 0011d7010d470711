"""The moves a worker makes on the SQS job queue: receive with a lease, keep the lease while a
document is read, requeue (the same body as a new message, carrying its count of failed
attempts), dead-letter, delete."""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Iterator, Optional

log = logging.getLogger("ocr_worker.worker")

#: The message attribute that counts failed attempts (interruptions do not add to it).
FAILURES = "ocr-failures"
#: SQS's longest message delay.
MAX_DELAY = 900


def failures_of(message: dict) -> int:
    try:
        return int(message.get("MessageAttributes", {}).get(FAILURES, {}).get("StringValue", 0))
    except ValueError:
        return 0


def _failures_attribute(failures: int) -> dict:
    return {FAILURES: {"DataType": "Number", "StringValue": str(failures)}}


class JobQueue:
    def __init__(self, sqs, queue_url: str, visibility_timeout: int, dlq_url: Optional[str] = None) -> None:
        """``visibility_timeout``: the lease, short so that a crashed worker's document comes back
        soon. ``dlq_url``: where :meth:`dead_letter` moves messages; None: the queue's redrive
        policy does it."""
        self.sqs, self.url, self.visibility_timeout, self.dlq_url = sqs, queue_url, visibility_timeout, dlq_url

    def receive(self, wait_seconds: int) -> list[dict]:
        return self.sqs.receive_message(
            QueueUrl=self.url, MaxNumberOfMessages=1, WaitTimeSeconds=wait_seconds,
            VisibilityTimeout=self.visibility_timeout, MessageAttributeNames=[FAILURES],
            MessageSystemAttributeNames=["ApproximateReceiveCount"]).get("Messages", [])

    def requeue(self, message: dict, failures: int, delay: int) -> None:
        """The same body as a new message (its receive count starts again), then the old one goes;
        if the send fails, the message reappears after its lease."""
        try:
            self.sqs.send_message(QueueUrl=self.url, MessageBody=message["Body"],
                                  DelaySeconds=min(max(delay, 0), MAX_DELAY),
                                  MessageAttributes=_failures_attribute(failures))
        except Exception:
            log.exception("could not requeue; the message reappears after its lease")
            return
        self.delete(message)

    def dead_letter(self, message: dict, failures: int) -> bool:
        """Move the message to the dead-letter queue; False if that failed (it reappears)."""
        try:
            self.sqs.send_message(QueueUrl=self.dlq_url, MessageBody=message["Body"],
                                  MessageAttributes=_failures_attribute(failures))
        except Exception:
            log.exception("could not dead-letter; the message reappears after its lease")
            return False
        log.error("dead-lettered after repeated failures", extra={"fields": {
            "message_id": message["MessageId"], "failures": failures}})
        self.delete(message)
        return True

    def delete(self, message: dict) -> None:
        try:
            self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])
        except Exception:  # it reappears after its lease; the result's version check keeps it single
            log.exception("could not delete the message")

    @contextlib.contextmanager
    def leased(self, message: dict) -> Iterator[None]:
        """Renew the message's lease at a third of it while the block runs."""
        done = threading.Event()
        keeper = threading.Thread(target=self._keep_invisible, args=(message["ReceiptHandle"], done), daemon=True)
        keeper.start()
        try:
            yield
        finally:
            done.set()
            keeper.join()

    def _keep_invisible(self, receipt: str, done: threading.Event) -> None:
        interval = max(1, self.visibility_timeout // 3)
        while not done.wait(interval):
            try:
                self.sqs.change_message_visibility(QueueUrl=self.url, ReceiptHandle=receipt,
                                                   VisibilityTimeout=self.visibility_timeout)
            except Exception:
                log.exception("could not renew the lease")
