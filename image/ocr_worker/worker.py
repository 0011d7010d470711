"""Long-poll the job queue, OCR each document from S3, write the result JSON, delete the message."""

from __future__ import annotations

import json
import logging
import signal
import threading
import urllib.parse
from dataclasses import dataclass

import boto3

from ocr_worker.documents import DocumentError
from ocr_worker.engine import OcrEngine
from ocr_worker.heartbeat import Heartbeat

log = logging.getLogger("ocr_worker.worker")


@dataclass(frozen=True)
class WorkerConfig:
    queue_url: str
    output_bucket: str
    output_prefix: str = "results/"
    #: Seconds a received message stays hidden; extended while a long document is processed.
    visibility_timeout: int = 300
    #: Seconds before a failed document is retried.
    retry_delay: int = 30
    wait_seconds: int = 20


def jobs_in(body: str) -> list[tuple[str, str]]:
    """(bucket, key) pairs from an S3 event notification or a plain {"bucket", "key"} message."""
    message = json.loads(body)
    if "Records" in message:
        return [(r["s3"]["bucket"]["name"], urllib.parse.unquote_plus(r["s3"]["object"]["key"]))
                for r in message["Records"] if r.get("eventName", "").startswith("ObjectCreated")]
    if message.get("Event") == "s3:TestEvent":
        return []
    return [(message["bucket"], message["key"])]


class Worker:
    def __init__(self, engine: OcrEngine, config: WorkerConfig) -> None:
        self.engine, self.config = engine, config
        self.sqs, self.s3 = boto3.client("sqs"), boto3.client("s3")
        self.stopping = threading.Event()
        self.heartbeat = Heartbeat()

    def install_signal_handlers(self) -> None:
        def stop(signum, _frame):
            log.info("stop requested; finishing the current document", extra={"fields": {"signal": signum}})
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
                    MessageSystemAttributeNames=["ApproximateReceiveCount"])
            except Exception:  # a queue outage must not kill the task; back off and poll again
                log.exception("receive failed")
                self.stopping.wait(5)
                continue
            for message in response.get("Messages", []):
                self.handle(message)
        log.info("stopped")

    def handle(self, message: dict) -> bool:
        receipt = message["ReceiptHandle"]
        fields = {"message_id": message["MessageId"],
                  "receive_count": int(message.get("Attributes", {}).get("ApproximateReceiveCount", 1))}
        heartbeat = threading.Event()
        keeper = threading.Thread(target=self._keep_invisible, args=(receipt, heartbeat), daemon=True)
        keeper.start()
        try:
            for bucket, key in jobs_in(message["Body"]):
                self.process(bucket, key, fields)
            ok = True
        except Exception as error:  # leave the message: it is retried, then dead-lettered
            level = logging.WARNING if isinstance(error, (DocumentError, ValueError, KeyError)) else logging.ERROR
            log.log(level, "document failed; left for retry",
                    extra={"fields": {**fields, "error": f"{type(error).__name__}: {error}"}})
            ok = False
        finally:
            heartbeat.set()
            keeper.join()
        if ok:
            self.sqs.delete_message(QueueUrl=self.config.queue_url, ReceiptHandle=receipt)
        else:
            self._retry_later(receipt)
        return ok

    def process(self, bucket: str, key: str, fields: dict) -> None:
        fields = {**fields, "bucket": bucket, "key": key}
        log.info("processing", extra={"fields": fields})
        data = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        result = self.engine.ocr_document(data, on_page=lambda _: self.heartbeat.beat())
        result["source"] = {"bucket": bucket, "key": key}
        out_key = f"{self.config.output_prefix}{key}.json"
        self.s3.put_object(Bucket=self.config.output_bucket, Key=out_key, ContentType="application/json",
                           Body=json.dumps(result, ensure_ascii=False).encode())
        log.info("done", extra={"fields": {**fields, "output": out_key, "pages": len(result["pages"]),
                                           "seconds": result["seconds"]}})

    def _keep_invisible(self, receipt: str, done: threading.Event) -> None:
        # Extend visibility at half the timeout while a long document is still being processed.
        interval = max(1, self.config.visibility_timeout // 2)
        while not done.wait(interval):
            try:
                self.sqs.change_message_visibility(QueueUrl=self.config.queue_url, ReceiptHandle=receipt,
                                                   VisibilityTimeout=self.config.visibility_timeout)
            except Exception:
                log.exception("could not extend visibility")

    def _retry_later(self, receipt: str) -> None:
        try:
            self.sqs.change_message_visibility(QueueUrl=self.config.queue_url, ReceiptHandle=receipt,
                                               VisibilityTimeout=self.config.retry_delay)
        except Exception:
            log.exception("could not shorten visibility; the message reappears after the timeout")
