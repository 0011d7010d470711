"""Long-poll the job queue, OCR each document from S3, write the result JSON, delete the message.

Stop and retry semantics (the README's "Stop and retry semantics" says the same):

- **Busy tasks are protected.** While it holds a message the task has ECS scale-in protection
  (:mod:`ocr_worker.protection`), so scale-in and deployments stop idle tasks only.
- **SIGTERM** (scale-in of an idle task, a deployment, Fargate Spot): the worker finishes the
  current page. If the rest of the document cannot finish before the stop deadline
  (``OCR_STOP_SECONDS``, the task's stopTimeout, less a margin), the message goes back to the
  queue at once and the worker exits 0.
- **Requeue, not redelivery.** Every handled outcome deletes the message it received. A retry or
  an interruption sends the same body again as a new message, carrying its count of *failed*
  attempts (``ocr-failures``). Interruptions do not add to it, so no number of deployments or
  Spot reclaims pushes a good document towards the dead-letter queue.
- **Permanent errors** (an unreadable, encrypted, oversized or over-long document, a missing
  object, a malformed message) are not retried: ``<output_prefix><key>.error.json`` records the
  reason where there is a key, and the message is deleted.
- **Transient errors** (S3, SQS or anything unexpected) are retried after ``OCR_RETRY_DELAY``;
  after ``OCR_MAX_FAILURES`` failed attempts the worker moves the message to the dead-letter
  queue itself. The queue's own redrive only catches documents that crash the worker (a
  receive that never ends in a delete), such as one that exhausts memory.
- **Exactly one result.** Each record of a multi-record event stands alone; a result (or error
  result) carries the source object's ETag and version, and a record whose result for that ETag
  and version already exists is not done again. A record is handled for the version it names
  (``versionId``, read as that version); a record whose version is no longer current (the object
  was overwritten or deleted since) is skipped with a log line: the newer upload has its own
  event. Results are written conditionally (``If-Match`` / ``If-None-Match``) on what was seen
  before a last "still current?" check, so a stale record can never overwrite a newer result.

- **Long documents** (more than ``OCR_PAGES_PER_PART`` pages) are split into page-range jobs on
  the same queue (:mod:`ocr_worker.parts`). Each part follows the rules above on its own: an
  interruption or a crash costs that part, failures count per part, and a part dead-lettered
  leaves an error record, so the document's result names the pages that were not read.

The pieces: :mod:`ocr_worker.jobs` (what a message asks for), :mod:`ocr_worker.jobqueue` (the
queue's moves), :mod:`ocr_worker.reader` (what each job becomes), :mod:`ocr_worker.results` (the
result writer), :mod:`ocr_worker.parts` (long documents), :mod:`ocr_worker.deadline`.
"""

from __future__ import annotations

import enum
import logging
import signal
import threading
import time
from typing import Optional

import boto3

from ocr_worker.deadline import Interrupted
from ocr_worker.engine import DocumentReader
from ocr_worker.heartbeat import Heartbeat
from ocr_worker.jobqueue import JobQueue, failures_of
from ocr_worker.jobs import BadMessage, jobs_in
from ocr_worker.protection import TaskProtection
from ocr_worker.reader import JobReader
from ocr_worker.settings import WorkerSettings

log = logging.getLogger("ocr_worker.worker")

#: Seconds kept back from the stop deadline for the upload, the delete and the exit.
STOP_MARGIN = 15


class Outcome(str, enum.Enum):
    """What ``Worker.handle`` did with a message. Each deletes the message it received; RETRY and
    INTERRUPTED first send its body again as a new message."""

    DONE = "done"  # a result, an error result, or a logged skip, for every record
    INTERRUPTED = "interrupted"  # SIGTERM, and the rest could not finish in time: no failure counted
    RETRY = "retry"  # an outage or a bug: one more failure, sent again after retry_delay
    DEAD = "dead"  # max_failures reached: moved to the dead-letter queue


class Worker:
    """Receives messages and gives each an ``Outcome``; one document at a time."""

    def __init__(self, engine: DocumentReader, config: WorkerSettings, sqs=None, s3=None,
                 protection: Optional[TaskProtection] = None) -> None:
        """``engine``: the InferenceThread that owns the engine (as `ocr-worker worker` runs it), or
        an engine called from this thread only."""
        self.engine, self.config = engine, config
        self.s3 = s3 or boto3.client("s3")
        sqs = sqs or boto3.client("sqs")
        self.queue = JobQueue(sqs, config.queue_url, config.visibility_timeout, config.dlq_url)
        self.protection = protection or TaskProtection(config.ecs_agent_uri, config.max_document_seconds)
        self.stopping = threading.Event()
        self.stop_deadline = float("inf")
        self.heartbeat = Heartbeat(config.heartbeat_file)
        self.reader = JobReader(engine, config, self.s3, sqs, self.heartbeat, stop_at=lambda: self.stop_deadline)

    def install_signal_handlers(self) -> None:
        def stop(signum, _frame):
            if not self.stopping.is_set():
                self.stop_deadline = time.monotonic() + self.config.stop_seconds - STOP_MARGIN
            log.info("stop requested; finishing the current page", extra={"fields": {"signal": signum}})
            self.stopping.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)

    def run(self) -> None:
        log.info("polling", extra={"fields": {"queue": self.config.queue_url}})
        while not self.stopping.is_set():
            self.heartbeat.beat()  # once per poll: at most wait_seconds apart while idle
            try:
                messages = self.queue.receive(self.config.wait_seconds)
            except Exception:  # a queue outage must not kill the task; back off and poll again
                log.exception("receive failed")
                self.stopping.wait(5)
                continue
            for message in messages:
                if self.stopping.is_set():  # received while stopping: hand it straight back
                    self.queue.requeue(message, failures_of(message), 0)
                else:
                    self.handle(message)
        log.info("stopped")

    def handle(self, message: dict) -> Outcome:
        """Process every job of ``message``, and say what became of it."""
        fields = {"message_id": message["MessageId"], "failures": failures_of(message),
                  "receive_count": int(message.get("Attributes", {}).get("ApproximateReceiveCount", 1))}
        try:
            jobs = jobs_in(message["Body"])
        except BadMessage as error:
            log.error("malformed message; deleted", extra={"fields": {**fields, "error": str(error)}})
            self.queue.delete(message)
            return Outcome.DONE
        try:
            with self.queue.leased(message):
                self.protection.protect()
                try:
                    for job in jobs:
                        self.reader.read(job, fields)
                finally:
                    self.protection.release()
        except Interrupted:
            log.info("interrupted; the message goes back to the queue", extra={"fields": fields})
            self.queue.requeue(message, fields["failures"], 0)
            return Outcome.INTERRUPTED
        except Exception as error:  # transient: S3, SQS, or a bug; retried, then dead-lettered
            failures = fields["failures"] + 1
            log.error("document failed; will retry", extra={"fields": {
                **fields, "failures": failures, "error": f"{type(error).__name__}: {error}"}})
            if failures >= self.config.max_failures and self.config.dlq_url:
                if not self.queue.dead_letter(message, failures):
                    return Outcome.RETRY
                for job in jobs:
                    if job.pages:
                        self.reader.part_failed(job, f"{type(error).__name__}: {error}", fields)
                return Outcome.DEAD
            self.queue.requeue(message, failures, self.config.retry_delay)
            return Outcome.RETRY
        self.queue.delete(message)
        return Outcome.DONE
