"""Local copies of source documents on the task's scratch volume: a document is downloaded once
per task, streamed to disk (never held in memory), and the parts of it this task reads share
the copy. The oldest copies beyond ``keep`` are removed."""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path
from typing import Optional

import botocore.exceptions

from ocr_worker.jobs import Job, Source, error_code, is_missing

log = logging.getLogger("ocr_worker.worker")

CHUNK = 1024 * 1024


class LocalCopies:
    def __init__(self, s3, directory: Optional[str] = None, keep: int = 2) -> None:
        self.s3, self.keep = s3, keep
        self.directory = Path(directory or tempfile.mkdtemp(prefix="ocr-documents-"))

    def get(self, job: Job, source: Source) -> Optional[Path]:
        """The local copy of ``source``, downloaded if this task has none; None when the object
        changed or went away since it was checked (the newer upload has its own event)."""
        name = hashlib.sha256(repr(source).encode()).hexdigest()[:32]
        path = self.directory / name
        if path.exists():
            os.utime(path)  # most recently used
            return path
        partial = path.with_suffix(".partial")
        try:
            # The version the record names (s3:GetObjectVersion), or the ETag just checked: never
            # another upload's bytes.
            body = self.s3.get_object(Bucket=job.bucket, Key=job.key, IfMatch=f'"{source.etag}"',
                                      **({"VersionId": source.version} if job.version else {}))["Body"]
            with open(partial, "wb") as file:
                for chunk in body.iter_chunks(CHUNK):
                    file.write(chunk)
        except botocore.exceptions.ClientError as error:
            partial.unlink(missing_ok=True)
            if is_missing(error) or error_code(error) in ("PreconditionFailed", "412"):
                return None
            raise
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        partial.rename(path)
        self._evict(keep=path)
        return path

    def _evict(self, keep: Path) -> None:
        copies = sorted((p for p in self.directory.iterdir() if p != keep and p.suffix != ".partial"),
                        key=lambda p: p.stat().st_mtime, reverse=True)
        for old in copies[self.keep - 1:]:
            old.unlink(missing_ok=True)
