"""What each job of a message becomes: a result, an error result, a split into parts, a part
record, or a logged skip (the rules are in :mod:`ocr_worker.worker`'s docstring)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable, Optional

from ocr_worker import documents
from ocr_worker.deadline import Deadline
from ocr_worker.documents import DocumentError
from ocr_worker.engine import DocumentReader
from ocr_worker.heartbeat import Heartbeat
from ocr_worker.jobs import Job, Source, current_version
from ocr_worker.localcopy import LocalCopies
from ocr_worker.parts import PartStore, Range, describe, part_source
from ocr_worker.results import ResultStore
from ocr_worker.settings import WorkerSettings

log = logging.getLogger("ocr_worker.worker")


class JobReader:
    def __init__(self, engine: DocumentReader, config: WorkerSettings, s3, sqs, heartbeat: Heartbeat,
                 stop_at: Callable[[], float]) -> None:
        """``stop_at()``: the monotonic time the worker must be done by (infinity until SIGTERM)."""
        self.engine, self.config, self.s3, self.heartbeat, self.stop_at = engine, config, s3, heartbeat, stop_at
        self.results = ResultStore(s3, config.output_bucket, config.output_prefix)
        self.parts = PartStore(s3, sqs, config.output_bucket, config.output_prefix, config.queue_url)
        self.copies = LocalCopies(s3)

    def read(self, job: Job, fields: dict) -> None:
        """One record or part: a result, an error result, a split, or a logged skip. Raises
        Interrupted, or any other exception for an outage (retried)."""
        fields = {**fields, "bucket": job.bucket, "key": job.key,
                  **({"pages": f"{job.pages[0]}-{job.pages[1]}"} if job.pages else {})}
        current = current_version(self.s3, job)
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
        if job.pages:
            self._part(job, job.pages, source, fields)
            return
        if self.results.done_for(job, source):
            log.info("skipped: already processed", extra={"fields": {**fields, "etag": source.etag}})
            return
        if size > self.config.max_bytes:  # checked before a single byte is read
            self._write(job, source, {"error": f"document is {size} bytes; the limit is {self.config.max_bytes} "
                                               "(documents.max_bytes)"}, fields)
            return
        log.info("processing", extra={"fields": fields})
        if (path := self._local_copy(job, source, fields)) is None:
            return
        try:
            page_count = documents.page_count(path, self.config.max_pages)
        except DocumentError as error:
            self._write(job, source, {"error": str(error)}, fields)
            return
        if page_count > self.config.pages_per_part:
            parts = self.parts.split(source, page_count, self.config.pages_per_part)
            log.info("split into parts", extra={"fields": {**fields, "pages": page_count, "parts": len(parts)}})
            return
        try:
            result = self._ocr(path, None)
        except DocumentError as error:
            self._write(job, source, {"error": str(error)}, fields)
            return
        self._write(job, source, result, fields)

    def _part(self, job: Job, part: Range, source: Source, fields: dict) -> None:
        # A failed part that comes back was redriven: it is read again.
        if self.parts.states(source).get(part) != "done":
            if (path := self._local_copy(job, source, fields)) is None:
                return
            log.info("processing", extra={"fields": fields})
            try:
                body = self._ocr(path, part)
            except DocumentError as error:  # the part is refused, the other parts still read
                body = {"error": f"pages {describe([part])}: {error}"}
            if self.parts.record(source, part, body):
                log.info("part done" if "error" not in body else "part refused",
                         extra={"fields": {**fields, **({"error": body["error"]} if "error" in body else {})}})
            else:
                log.info("skipped: part already processed", extra={"fields": fields})
        else:  # a duplicate, or its writer stopped before the merge: the merge is done here
            log.info("skipped: part already processed", extra={"fields": fields})
        self._merge(job, source, fields)

    def part_failed(self, job: Job, error: str, fields: dict) -> None:
        """A part dead-lettered: its error record names the pages, so the merge can go on."""
        assert job.pages is not None
        try:
            self.parts.record(part_source(job), job.pages, {"error": f"pages {describe([job.pages])}: {error}"})
            self._merge(job, part_source(job), fields)
        except Exception:
            log.exception("could not record the failed part", extra={"fields": fields})

    def _merge(self, job: Job, source: Source, fields: dict) -> None:
        if (merged := self.parts.merged(source)) is not None:
            self._write(Job(job.bucket, job.key, job.etag, job.version), source, merged, fields)

    def _local_copy(self, job: Job, source: Source, fields: dict) -> Optional[Path]:
        if (path := self.copies.get(job, source)) is None:
            log.info("skipped: the object changed while being read", extra={"fields": fields})
        return path

    def _ocr(self, path: Path, pages: Optional[Range]) -> dict:
        deadline = Deadline(self.config.max_document_seconds, "documents.max_document_seconds",
                            stop_at=self.stop_at)

        def on_page(done: int, total: int) -> None:
            self.heartbeat.beat()
            deadline(done, total)

        return self.engine.ocr_document(path, on_page=on_page, pages=pages)

    def _write(self, job: Job, source: Source, body: dict, fields: dict) -> None:
        # An error result for a missing object has no version to compare.
        def still_current() -> bool:
            return source.etag is None or (current := current_version(self.s3, job)) is not None and \
                current[0] == source

        self.results.write(job, source, body, fields, still_current)
