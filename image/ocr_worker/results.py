"""Results in the output bucket: ``<prefix><key>.json``, or ``.error.json`` for a refused
document, each tagged with the source version it was read from, and written at most once per
version.

Writes are conditional (``If-Match`` / ``If-None-Match: *``) on the result seen just before a
last "still current?" check, so two workers never both win: a stale record that loses the race
to a newer one's result re-checks and skips, and a newer one that loses to a stale one
overwrites it.
"""

from __future__ import annotations

import json
import logging
from typing import Callable, Optional

import botocore.exceptions

from ocr_worker.jobs import Job, Source, error_code, is_missing

log = logging.getLogger("ocr_worker.worker")

#: Conditional writes of one result that may lose a race to another worker before it is a retry.
WRITE_ATTEMPTS = 5


class ResultStore:
    def __init__(self, s3, bucket: str, prefix: str) -> None:
        self.s3, self.bucket, self.prefix = s3, bucket, prefix

    def key(self, job: Job, error: bool) -> str:
        return f"{self.prefix}{job.key}{'.error' if error else ''}.json"

    def _head(self, key: str) -> Optional[dict]:
        try:
            return self.s3.head_object(Bucket=self.bucket, Key=key)
        except botocore.exceptions.ClientError as error:
            if is_missing(error):
                return None
            raise

    def done_for(self, job: Job, source: Source) -> bool:
        """Is there a result or an error result for this version of the object already?"""
        return any((head := self._head(self.key(job, error))) is not None and _written_for(head, source)
                   for error in (False, True))

    def write(self, job: Job, source: Source, body: dict, fields: dict, still_current: Callable[[], bool]) -> None:
        """Write ``body`` as the result of ``source``, unless it is there already or
        ``still_current()`` says a newer upload of the key has made it stale."""
        error = "error" in body
        key = self.key(job, error)
        body = {**body, "source": source.as_dict()}
        for _ in range(WRITE_ATTEMPTS):
            seen = self._head(key)
            if seen is not None and _written_for(seen, source):
                log.info("skipped: already processed", extra={"fields": {**fields, "etag": source.etag}})
                return
            if not still_current():
                log.info("skipped: a newer upload of the object replaced it while it was read; its own "
                         "event brings the result", extra={"fields": fields})
                return
            condition = {"IfMatch": seen["ETag"]} if seen is not None else {"IfNoneMatch": "*"}
            try:
                self.s3.put_object(Bucket=self.bucket, Key=key, ContentType="application/json",
                                   Metadata={"source-etag": source.etag or "", "source-version": source.version or ""},
                                   Body=json.dumps(body, ensure_ascii=False).encode(), **condition)
            except botocore.exceptions.ClientError as e:
                # 412: another worker wrote it since it was seen; 409: at the same moment.
                if error_code(e) in ("PreconditionFailed", "412", "ConditionalRequestConflict", "409"):
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


def _written_for(head: dict, source: Source) -> bool:
    metadata = head.get("Metadata", {})
    return metadata.get("source-etag") == (source.etag or "") and \
        metadata.get("source-version", "") == (source.version or "")
