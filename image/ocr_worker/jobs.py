"""What a queue message asks for: its jobs (S3 event records, a plain ``{"bucket", "key"}``, or a
part of a long document, which adds ``etag``, ``version`` and ``pages``), and the object version
each job is read from."""

from __future__ import annotations

import json
import urllib.parse
from dataclasses import dataclass
from typing import Optional

import botocore.exceptions


@dataclass(frozen=True)
class Job:
    bucket: str
    key: str
    #: From an S3 event or a part: the object this message announced. None for a plain message.
    etag: Optional[str] = None
    version: Optional[str] = None
    #: A part of a long document (:mod:`ocr_worker.parts`): its first and last page.
    pages: Optional[tuple[int, int]] = None


@dataclass(frozen=True)
class Source:
    """The object version a result is read from (the result's ``source``)."""

    bucket: str
    key: str
    etag: Optional[str]
    version: Optional[str]

    def as_dict(self) -> dict:
        return {"bucket": self.bucket, "key": self.key, "etag": self.etag, "version": self.version}


class BadMessage(Exception):
    """The message itself is malformed: nothing to retry."""


def jobs_in(body: str) -> list[Job]:
    """The jobs in an S3 event notification or a plain ``{"bucket", "key"}`` message."""
    try:
        message = json.loads(body)
        if isinstance(message, dict) and "Records" in message:
            return [Job(r["s3"]["bucket"]["name"], urllib.parse.unquote_plus(r["s3"]["object"]["key"]),
                        etag_of(r["s3"]["object"].get("eTag")), r["s3"]["object"].get("versionId"))
                    for r in message["Records"] if r.get("eventName", "").startswith("ObjectCreated")]
        if isinstance(message, dict) and message.get("Event") == "s3:TestEvent":
            return []
        job = Job(str(message["bucket"]), str(message["key"]), etag_of(message.get("etag")), message.get("version"))
        if "pages" not in message:
            return [job]
        first, last = (int(n) for n in message["pages"])
        if not (1 <= first <= last and job.etag):
            raise ValueError(f"a part needs an etag and pages first <= last, not {message['pages']}")
        return [Job(job.bucket, job.key, job.etag, job.version, (first, last))]
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise BadMessage(f"{type(error).__name__}: {error}") from None


def etag_of(value: Optional[str]) -> Optional[str]:
    return value.strip('"') if value else None


def error_code(error: botocore.exceptions.ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def is_missing(error: botocore.exceptions.ClientError) -> bool:
    return error_code(error) in ("404", "NoSuchKey", "NotFound")


def current_version(s3, job: Job) -> Optional[tuple[Source, int]]:
    """The object's current version and size; None when it does not exist (or its current
    version is a delete marker). Never HEADs the record's own version: that would answer for an
    overwritten or deleted version as if it were current."""
    try:
        head = s3.head_object(Bucket=job.bucket, Key=job.key)
    except botocore.exceptions.ClientError as error:
        if is_missing(error):
            return None
        raise
    return Source(job.bucket, job.key, etag_of(head.get("ETag")), head.get("VersionId")), head["ContentLength"]
