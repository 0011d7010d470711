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

Size: the whole life of a message in one module, so every rule above can be read beside the code
that keeps it. The result writer (``_write`` and the heads it reads) and the queue's moves
(requeue, dead-letter, lease) are the next pieces to split out as classes of their own.
"""

from __future__ import annotations

import enum
import json
import logging
import signal
import threading
import time
import urllib.parse
from dataclasses import dataclass
from typing import Optional

import boto3
import botocore.exceptions

from ocr_worker.documents import MAX_BYTES, DocumentError, page_count
from ocr_worker.engine import OcrEngine
from ocr_worker.heartbeat import DEFAULT_FILE, Heartbeat
from ocr_worker.inference import InferenceThread
from ocr_worker.protection import TaskProtection

log = logging.getLogger("ocr_worker.worker")

FAILURES = "ocr-failures"
#: Seconds kept back from the stop deadline for the upload, the delete and the exit.
STOP_MARGIN = 15
#: SQS's longest message delay.
MAX_DELAY = 900
#: Conditional writes of one result that may lose a race to another worker before it is a retry.
WRITE_ATTEMPTS = 5


@dataclass(frozen=True)
class WorkerConfig:
    queue_url: str
    output_bucket: str
    output_prefix: str = "results/"
    #: The lease: seconds a received message stays hidden, renewed while it is being worked on.
    #: Short, so that a document whose worker crashed comes back soon.
    visibility_timeout: int = 120
    #: Seconds before a failed document is tried again.
    retry_delay: int = 30
    wait_seconds: int = 20
    #: Where the worker moves a message after ``max_failures`` failed attempts; None: the queue's
    #: redrive policy does it (the message is left to reappear).
    dlq_url: Optional[str] = None
    max_failures: int = 3
    #: A document that takes longer is an error result ("over-long"), not a retry.
    max_document_seconds: int = 600
    #: Seconds between SIGTERM and SIGKILL (the container's stopTimeout).
    stop_seconds: int = 120
    #: Touched while the loop runs; ``ocr-worker health`` reads it.
    heartbeat_file: str = DEFAULT_FILE
    #: The ECS agent's endpoint (``ECS_AGENT_URI``): where the task protects itself. None outside ECS.
    ecs_agent_uri: Optional[str] = None


@dataclass(frozen=True)
class Job:
    bucket: str
    key: str
    #: From an S3 event: the object this message announced. None for a plain message.
    etag: Optional[str] = None
    version: Optional[str] = None


@dataclass(frozen=True)
class Source:
    """The object version a result is read from (the result's ``source``)."""

    bucket: str
    key: str
    etag: Optional[str]
    version: Optional[str]

    def as_dict(self) -> dict:
        return {"bucket": self.bucket, "key": self.key, "etag": self.etag, "version": self.version}


class Outcome(str, enum.Enum):
    """What ``Worker.handle`` did with a message. Each deletes the message it received; RETRY,
    INTERRUPTED and STOPPING first send its body again as a new message."""

    DONE = "done"  # a result, an error result, or a logged skip, for every record
    INTERRUPTED = "interrupted"  # SIGTERM, and the rest could not finish in time: no failure counted
    RETRY = "retry"  # an outage or a bug: one more failure, sent again after retry_delay
    DEAD = "dead"  # max_failures reached: moved to the dead-letter queue
    STOPPING = "stopping"  # received after SIGTERM: sent back unread


class BadMessage(Exception):
    """The message itself is malformed: nothing to retry."""


class Interrupted(Exception):
    """SIGTERM, and the document cannot finish before the stop deadline."""


class Permanent(Exception):
    """The document can never be processed; the reason goes into its error result."""


def jobs_in(body: str) -> list[Job]:
    """The jobs in an S3 event notification or a plain ``{"bucket", "key"}`` message."""
    try:
        message = json.loads(body)
        if isinstance(message, dict) and "Records" in message:
            return [Job(r["s3"]["bucket"]["name"], urllib.parse.unquote_plus(r["s3"]["object"]["key"]),
                        _etag(r["s3"]["object"].get("eTag")), r["s3"]["object"].get("versionId"))
                    for r in message["Records"] if r.get("eventName", "").startswith("ObjectCreated")]
        if isinstance(message, dict) and message.get("Event") == "s3:TestEvent":
            return []
        return [Job(str(message["bucket"]), str(message["key"]))]
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise BadMessage(f"{type(error).__name__}: {error}") from None


def _etag(value: Optional[str]) -> Optional[str]:
    return value.strip('"') if value else None


def _error_code(error: botocore.exceptions.ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _is_missing(error: botocore.exceptions.ClientError) -> bool:
    return _error_code(error) in ("404", "NoSuchKey", "NotFound")


class Worker:
    """Receives messages and gives each an ``Outcome``; one document at a time.

    Size: see the module docstring."""

    def __init__(self, engine: "OcrEngine | InferenceThread", config: WorkerConfig, sqs=None, s3=None,
                 protection: Optional[TaskProtection] = None) -> None:
        """``engine``: the InferenceThread that owns the engine (as `ocr-worker worker` runs it), or
        an OcrEngine called from this thread only."""
        self.engine, self.config = engine, config
        self.sqs, self.s3 = sqs or boto3.client("sqs"), s3 or boto3.client("s3")
        self.protection = protection or TaskProtection(config.ecs_agent_uri, config.max_document_seconds)
        self.stopping = threading.Event()
        self.stop_deadline = float("inf")
        self.heartbeat = Heartbeat(config.heartbeat_file)

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
                response = self.sqs.receive_message(
                    QueueUrl=self.config.queue_url, MaxNumberOfMessages=1,
                    WaitTimeSeconds=self.config.wait_seconds, VisibilityTimeout=self.config.visibility_timeout,
                    MessageAttributeNames=[FAILURES], MessageSystemAttributeNames=["ApproximateReceiveCount"])
            except Exception:  # a queue outage must not kill the task; back off and poll again
                log.exception("receive failed")
                self.stopping.wait(5)
                continue
            for message in response.get("Messages", []):
                if self.stopping.is_set():  # received while stopping: hand it straight back
                    self._requeue(message, self._failures(message), 0, Outcome.STOPPING)
                else:
                    self.handle(message)
        log.info("stopped")

    # -- one message ---------------------------------------------------------------------------

    def handle(self, message: dict) -> Outcome:
        """Process every job of ``message``, and say what became of it."""
        fields = {"message_id": message["MessageId"], "failures": self._failures(message),
                  "receive_count": int(message.get("Attributes", {}).get("ApproximateReceiveCount", 1))}
        try:
            jobs = jobs_in(message["Body"])
        except BadMessage as error:
            log.error("malformed message; deleted", extra={"fields": {**fields, "error": str(error)}})
            self._delete(message)
            return Outcome.DONE
        done = threading.Event()
        keeper = threading.Thread(target=self._keep_invisible, args=(message["ReceiptHandle"], done), daemon=True)
        keeper.start()
        self.protection.protect()
        try:
            for job in jobs:
                self.process(job, fields)
        except Interrupted:
            log.info("interrupted; the message goes back to the queue", extra={"fields": fields})
            return self._requeue(message, fields["failures"], 0, Outcome.INTERRUPTED)
        except Exception as error:  # transient: S3, SQS, or a bug; retried, then dead-lettered
            failures = fields["failures"] + 1
            log.error("document failed; will retry", extra={"fields": {
                **fields, "failures": failures, "error": f"{type(error).__name__}: {error}"}})
            if failures >= self.config.max_failures and self.config.dlq_url:
                return self._dead_letter(message, failures)
            return self._requeue(message, failures, self.config.retry_delay, Outcome.RETRY)
        finally:
            done.set()
            keeper.join()
            self.protection.release()
        self._delete(message)
        return Outcome.DONE

    def process(self, job: Job, fields: dict) -> None:
        """One record: a result, an error result, or a logged skip. Raises Interrupted, or any
        other exception for an outage (retried)."""
        fields = {**fields, "bucket": job.bucket, "key": job.key}
        current = self._current(job)
        if current is None:
            if job.etag or job.version:
                log.info("skipped: the object was deleted after its event", extra={"fields": fields})
            else:
                self._write(job, Source(job.bucket, job.key, None, None), {"error": "object not found"}, fields)
            return
        source, size = current
        if (job.etag and source.etag != job.etag) or (job.version and source.version != job.version):
            log.info("skipped: the object was overwritten after its event; the new upload has its own",
                     extra={"fields": fields})
            return
        if any(self._written_for(head, source) for head in self._results(job)):
            log.info("skipped: already processed", extra={"fields": {**fields, "etag": source.etag}})
            return
        if size > MAX_BYTES:  # checked before a single byte is read
            self._write(job, source, {"error": f"document is {size} bytes; the limit is {MAX_BYTES}"}, fields)
            return
        log.info("processing", extra={"fields": fields})
        try:
            # The version the record names (s3:GetObjectVersion), or the ETag just checked: never
            # another upload's bytes.
            data = self.s3.get_object(Bucket=job.bucket, Key=job.key, IfMatch=f'"{source.etag}"',
                                      **({"VersionId": source.version} if job.version else {}))["Body"].read()
        except botocore.exceptions.ClientError as error:
            if _is_missing(error) or _error_code(error) in ("PreconditionFailed", "412"):
                log.info("skipped: the object changed while being read", extra={"fields": fields})
                return
            raise
        try:
            result = self._ocr(data)
        except (DocumentError, Permanent) as error:
            self._write(job, source, {"error": str(error)}, fields)
            return
        self._write(job, source, result, fields)

    def _current(self, job: Job) -> Optional[tuple["Source", int]]:
        """The object's current version and size; None when it does not exist (or its current
        version is a delete marker). Never HEADs the record's own version: that would answer
        for an overwritten or deleted version as if it were current."""
        try:
            head = self.s3.head_object(Bucket=job.bucket, Key=job.key)
        except botocore.exceptions.ClientError as error:
            if _is_missing(error):
                return None
            raise
        return Source(job.bucket, job.key, _etag(head.get("ETag")), head.get("VersionId")), head["ContentLength"]

    def _ocr(self, data: bytes) -> dict:
        start, total = time.monotonic(), page_count(data)

        def on_page(index: int) -> None:
            self.heartbeat.beat()
            now = time.monotonic()
            if now - start > self.config.max_document_seconds:
                raise Permanent(f"document took more than {self.config.max_document_seconds} s "
                                f"(documents.max_document_seconds) after {index + 1} of {total} pages")
            if self.stopping.is_set() and index + 1 < total:
                needed = (now - start) / (index + 1) * (total - index - 1)
                if now + needed > self.stop_deadline:
                    raise Interrupted()

        return self.engine.ocr_document(data, on_page=on_page)

    # -- results -------------------------------------------------------------------------------

    def _result_key(self, job: Job, error: bool) -> str:
        return f"{self.config.output_prefix}{job.key}{'.error' if error else ''}.json"

    def _result_head(self, key: str) -> Optional[dict]:
        try:
            return self.s3.head_object(Bucket=self.config.output_bucket, Key=key)
        except botocore.exceptions.ClientError as error:
            if _is_missing(error):
                return None
            raise

    def _results(self, job: Job) -> list[dict]:
        """The HEADs of the result and error result written for ``job.key``, where there are any."""
        return [head for error in (False, True) if (head := self._result_head(self._result_key(job, error)))]

    @staticmethod
    def _written_for(head: dict, source: "Source") -> bool:
        metadata = head.get("Metadata", {})
        return metadata.get("source-etag") == (source.etag or "") and \
            metadata.get("source-version", "") == (source.version or "")

    def _still_current(self, job: Job, source: "Source") -> bool:
        """Is ``source`` still the object's current version? (An error result for a missing
        object has no version to compare.)"""
        if source.etag is None:
            return True
        current = self._current(job)
        return current is not None and current[0] == source

    def _write(self, job: Job, source: "Source", body: dict, fields: dict) -> None:
        """Write ``body`` as the result of ``source``, unless a newer upload of the key has made
        it stale. The write is conditional on the result seen just before the staleness check
        (``If-Match``, or ``If-None-Match: *`` for none), so two workers never both win: a stale
        record that loses the race to a newer one's result re-checks and skips, and a newer one
        that loses to a stale one overwrites it."""
        error = "error" in body
        key = self._result_key(job, error)
        body = {**body, "source": source.as_dict()}
        for _ in range(WRITE_ATTEMPTS):
            seen = self._result_head(key)
            if seen is not None and self._written_for(seen, source):
                log.info("skipped: already processed", extra={"fields": {**fields, "etag": source.etag}})
                return
            if not self._still_current(job, source):
                log.info("skipped: a newer upload of the object replaced it while it was read; its own "
                         "event brings the result", extra={"fields": fields})
                return
            condition = {"IfMatch": seen["ETag"]} if seen is not None else {"IfNoneMatch": "*"}
            try:
                self.s3.put_object(Bucket=self.config.output_bucket, Key=key, ContentType="application/json",
                                   Metadata={"source-etag": source.etag or "", "source-version": source.version or ""},
                                   Body=json.dumps(body, ensure_ascii=False).encode(), **condition)
            except botocore.exceptions.ClientError as e:
                # 412: another worker wrote it since it was seen; 409: at the same moment.
                if _error_code(e) in ("PreconditionFailed", "412", "ConditionalRequestConflict", "409"):
                    continue
                raise
            break
        else:
            raise RuntimeError(f"{key} kept changing while its result was written")
        if error:
            log.warning("document refused; error result written", extra={"fields": {
                **fields, "output": key, "error": body["error"]}})
        else:
            log.info("done", extra={"fields": {**fields, "output": key, "pages": len(body["pages"]),
                                               "seconds": body["seconds"]}})

    # -- the queue -----------------------------------------------------------------------------

    @staticmethod
    def _failures(message: dict) -> int:
        try:
            return int(message.get("MessageAttributes", {}).get(FAILURES, {}).get("StringValue", 0))
        except ValueError:
            return 0

    def _requeue(self, message: dict, failures: int, delay: int, outcome: Outcome) -> Outcome:
        """The same body as a new message (its receive count starts again), then the old one goes."""
        try:
            self.sqs.send_message(QueueUrl=self.config.queue_url, MessageBody=message["Body"],
                                  DelaySeconds=min(max(delay, 0), MAX_DELAY), MessageAttributes={
                                      FAILURES: {"DataType": "Number", "StringValue": str(failures)}})
        except Exception:
            log.exception("could not requeue; the message reappears after its lease")
            return outcome
        self._delete(message)
        return outcome

    def _dead_letter(self, message: dict, failures: int) -> Outcome:
        try:
            self.sqs.send_message(QueueUrl=self.config.dlq_url, MessageBody=message["Body"], MessageAttributes={
                FAILURES: {"DataType": "Number", "StringValue": str(failures)}})
        except Exception:
            log.exception("could not dead-letter; the message reappears after its lease")
            return Outcome.RETRY
        log.error("dead-lettered after repeated failures", extra={"fields": {
            "message_id": message["MessageId"], "failures": failures}})
        self._delete(message)
        return Outcome.DEAD

    def _delete(self, message: dict) -> None:
        try:
            self.sqs.delete_message(QueueUrl=self.config.queue_url, ReceiptHandle=message["ReceiptHandle"])
        except Exception:  # it reappears after its lease; the ETag check keeps the result single
            log.exception("could not delete the message")

    def _keep_invisible(self, receipt: str, done: threading.Event) -> None:
        # Renew the lease at a third of it while the document is still being worked on.
        interval = max(1, self.config.visibility_timeout // 3)
        while not done.wait(interval):
            try:
                self.sqs.change_message_visibility(QueueUrl=self.config.queue_url, ReceiptHandle=receipt,
                                                   VisibilityTimeout=self.config.visibility_timeout)
            except Exception:
                log.exception("could not renew the lease")
