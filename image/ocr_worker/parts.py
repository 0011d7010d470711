"""Long documents in parts: split into page ranges, one record per part, one merge.

A document of more than ``pages_per_part`` pages becomes page-range jobs on the same queue, each
naming the exact source version (:func:`part_messages`), so any task takes any part and the
queue's backlog counts them. Under the output bucket, in
``<output_prefix>.parts/<key>/<version or etag>/``:

- ``manifest.json``: the source, its page count and the part ranges, written once at the split
  (``If-None-Match``); a split done again (a redelivered message) sends the first one's ranges.
- ``00001-00020.json``: a part's pages, written once (``If-None-Match``); a duplicate delivery
  finds it and does nothing.
- ``00021-00040.error.json``: a part that failed for good (dead-lettered after its failed
  attempts, or refused): its pages and why. A redriven part that then succeeds writes its
  ``.json`` beside it, which counts instead.
- ``progress.json``: pages done, parts outstanding and failed, rewritten after each part, never
  backwards (``If-Match`` on the copy read).

**One merge.** Every part writer lists the folder after its own write. S3's LIST is strongly
consistent with the writes before it, so whichever writer lists last sees every record. The
full result is written through :class:`~ocr_worker.results.ResultStore`, which writes one result
per source version, so two writers that both see the last record still write it once. A
lifecycle rule on the prefix expires the folder (the deployment's ``expire-parts`` rule).
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any, Optional

import botocore.exceptions

from ocr_worker.jobs import Job, Source, error_code, is_missing

log = logging.getLogger("ocr_worker.worker")

#: The folder of every document's parts, under the output prefix.
FOLDER = ".parts/"
_RECORD = re.compile(r"(\d+)-(\d+)(\.error)?\.json$")
_CONFLICT = ("PreconditionFailed", "412", "ConditionalRequestConflict", "409")

Range = tuple[int, int]


def ranges(page_count: int, per_part: int) -> list[Range]:
    """Pages 1 to ``page_count`` in consecutive ranges of ``per_part`` (the last may be shorter)."""
    return [(first, min(first + per_part - 1, page_count)) for first in range(1, page_count + 1, per_part)]


def describe(missing: list[Range]) -> str:
    return ", ".join(f"{a}-{b}" if a != b else str(a) for a, b in missing)


class PartStore:
    def __init__(self, s3, sqs, bucket: str, output_prefix: str, queue_url: str) -> None:
        self.s3, self.sqs, self.bucket, self.prefix, self.queue_url = s3, sqs, bucket, output_prefix, queue_url

    def folder(self, source: Source) -> str:
        return f"{self.prefix}{FOLDER}{source.key}/{source.version or source.etag}/"

    def record_key(self, source: Source, part: Range, error: bool = False) -> str:
        return f"{self.folder(source)}{part[0]:05d}-{part[1]:05d}{'.error' if error else ''}.json"

    # -- the split ------------------------------------------------------------------------------

    def split(self, source: Source, page_count: int, per_part: int) -> list[Range]:
        """Write the manifest (or read the one a first split wrote) and queue one job per part."""
        manifest: Any = {"source": source.as_dict(), "pages": page_count,
                         "parts": [list(r) for r in ranges(page_count, per_part)]}
        if not self._put(self.folder(source) + "manifest.json", manifest):
            manifest = self._get(self.folder(source) + "manifest.json")
        parts = [(a, b) for a, b in manifest["parts"]]
        # One SendMessage each (sqs:SendMessage, which the task role has); a failure retries the
        # split, and the parts queued before it are then done once.
        for first, last in parts:
            self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=json.dumps({
                **source.as_dict(), "pages": [first, last], "page_count": manifest["pages"]}))
        self.write_progress(source, manifest=manifest)
        return parts

    # -- records ----------------------------------------------------------------------------------

    def record(self, source: Source, part: Range, body: dict) -> bool:
        """Write a part's pages, or its ``error``; False when that record was already there."""
        return self._put(self.record_key(source, part, "error" in body), body)

    def states(self, source: Source) -> dict[Range, str]:
        """Each part with a record: ``done``, or ``failed`` when it has only an error record."""
        states: dict[Range, str] = {}
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.folder(source))
        for page in pages:
            for item in page.get("Contents", []):
                if match := _RECORD.search(item["Key"]):
                    part = (int(match[1]), int(match[2]))
                    if match[3] is None or states.get(part) != "done":
                        states[part] = "failed" if match[3] else "done"
        return states

    def progress(self, source: Source, states: Optional[dict[Range, str]] = None,
                 manifest: Optional[dict] = None) -> Optional[dict]:
        """Pages done, parts outstanding and failed parts; None when the document was not split.
        ``states`` and ``manifest``: what the caller has read already."""
        manifest = manifest or self._get(self.folder(source) + "manifest.json")
        if manifest is None:
            return None
        states = self.states(source) if states is None else states
        parts = [(a, b) for a, b in manifest["parts"]]
        done = [p for p in parts if states.get(p) == "done"]
        failed = [p for p in parts if states.get(p) == "failed"]
        return {"source": manifest["source"], "pages": manifest["pages"], "parts": len(parts),
                "pages_done": sum(b - a + 1 for a, b in done), "parts_done": len(done),
                "parts_failed": len(failed), "parts_outstanding": len(parts) - len(done) - len(failed),
                "failed_pages": describe(failed)}

    def write_progress(self, source: Source, states: Optional[dict[Range, str]] = None,
                       manifest: Optional[dict] = None) -> None:
        """Rewrite ``progress.json``, unless the copy there has counted as many records already."""
        key = self.folder(source) + "progress.json"
        progress = self.progress(source, states, manifest)
        if progress is None:
            return
        for _ in range(3):
            seen = self._get(key, with_etag=True)
            if seen is not None and _counted(seen[0]) >= _counted(progress):
                return
            if self._put(key, progress, {"IfMatch": seen[1]} if seen is not None else None):
                return

    def merged(self, source: Source) -> Optional[dict]:
        """The whole document's result, pages in order, once every part has a record; None before.
        With failed parts it is an error result that names the missing pages and keeps the rest."""
        manifest = self._get(self.folder(source) + "manifest.json")
        if manifest is None:
            return None
        parts = [(a, b) for a, b in manifest["parts"]]
        states = self.states(source)
        self.write_progress(source, states, manifest)
        if any(p not in states for p in parts):
            return None
        pages: list[dict] = []
        models: list[str] = []
        errors: list[str] = []
        missing: list[Range] = []
        seconds = 0.0
        for part in parts:
            failed = states[part] == "failed"
            body = self._get(self.record_key(source, part, failed))
            if failed:
                missing.append(part)
                errors.append(body["error"])
                pages.extend({"page": n, "lines": [], "error": body["error"]} for n in range(part[0], part[1] + 1))
                continue
            pages.extend(body["pages"])
            seconds += body["seconds"]
            models = models or body["models"]
        result = {"pages": pages, "models": models, "seconds": round(seconds, 3), "parts": len(parts)}
        if missing:
            result = {"error": f"pages {describe(missing)} of {manifest['pages']} were not read: {errors[0]}",
                      "missing_pages": [list(p) for p in missing], **result}
        return result

    # -- S3 -------------------------------------------------------------------------------------

    def _put(self, key: str, body: dict, condition: Optional[dict] = None) -> bool:
        """Write ``key`` once (or on ``condition``); False when the condition failed."""
        try:
            self.s3.put_object(Bucket=self.bucket, Key=key, ContentType="application/json",
                               Body=json.dumps(body, ensure_ascii=False).encode(),
                               **(condition or {"IfNoneMatch": "*"}))
        except botocore.exceptions.ClientError as error:
            if error_code(error) in _CONFLICT:
                return False
            raise
        return True

    def _get(self, key: str, with_etag: bool = False) -> Any:
        try:
            response = self.s3.get_object(Bucket=self.bucket, Key=key)
        except botocore.exceptions.ClientError as error:
            if is_missing(error):
                return None
            raise
        body = json.loads(response["Body"].read())
        return (body, response["ETag"]) if with_etag else body


def _counted(progress: dict) -> int:
    return progress["parts_done"] + progress["parts_failed"]


def part_source(job: Job) -> Source:
    """A part job names the exact version it reads."""
    return Source(job.bucket, job.key, job.etag, job.version)
