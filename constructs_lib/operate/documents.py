"""Documents in and results out: upload to the input prefix, find the result the worker wrote for
that exact upload, and follow a long document's progress while waiting.

The worker's conventions, kept beside its own by tests/operate/test_documents.py:
``<output_prefix><key>.json`` (or ``.error.json``) carries the source's version and ETag in its
metadata; a split document writes ``<output_prefix>.parts/<key>/<version or etag>/progress.json``.
"""

from __future__ import annotations

import json
import mimetypes
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, TextIO

import botocore.exceptions

from constructs_lib.operate.deployment import NOT_YET, USAGE, Deployment, OperatorError

PARTS_FOLDER = ".parts/"
#: Seconds between looks at the output bucket while waiting, and between progress lines.
POLL_SECONDS, REPORT_SECONDS = 2.0, 10.0


@dataclass(frozen=True)
class Upload:
    """One version of one input object."""

    key: str
    version: Optional[str]
    etag: str


@dataclass(frozen=True)
class Result:
    key: str  # where it is in the output bucket
    body: dict

    @property
    def refused(self) -> bool:
        return "error" in self.body


def submit(s3, deployment: Deployment, path: Path, key: Optional[str] = None) -> Upload:
    """Upload ``path`` to ``<input_prefix><name>`` (or to ``key``, which must be under the prefix:
    only that prefix is queued)."""
    if not path.is_file():
        raise OperatorError(f"{path}: {'is a directory' if path.is_dir() else 'no such file'}", USAGE)
    key = key or f"{deployment.input_prefix}{path.name}"
    if not key.startswith(deployment.input_prefix):
        raise OperatorError(f"--key {key!r} is outside the input prefix {deployment.input_prefix!r}: "
                            "nothing would read it", USAGE)
    content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    with path.open("rb") as body:
        answer = s3.put_object(Bucket=deployment.input_bucket, Key=key, Body=body, ContentType=content_type)
    return Upload(key, answer.get("VersionId"), answer["ETag"].strip('"'))


def current(s3, deployment: Deployment, key: str) -> Upload:
    """The current version of input ``key``."""
    try:
        head = s3.head_object(Bucket=deployment.input_bucket, Key=key)
    except botocore.exceptions.ClientError as error:
        if error.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
            raise OperatorError(f"s3://{deployment.input_bucket}/{key}: no such input document", USAGE) from None
        raise
    return Upload(key, head.get("VersionId"), head["ETag"].strip('"'))


def result(s3, deployment: Deployment, upload: Upload) -> Optional[Result]:
    """The result or error result written for exactly this upload, or None (not yet)."""
    for suffix in (".json", ".error.json"):
        key = f"{deployment.output_prefix}{upload.key}{suffix}"
        try:
            answer = s3.get_object(Bucket=deployment.output_bucket, Key=key)
        except botocore.exceptions.ClientError as error:
            if error.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
                continue
            raise
        metadata = answer.get("Metadata", {})
        if metadata.get("source-version", "") == (upload.version or "") and metadata.get("source-etag") == upload.etag:
            return Result(key, json.loads(answer["Body"].read()))
    return None


def progress(s3, deployment: Deployment, upload: Upload) -> Optional[dict]:
    """A split document's ``progress.json``, or None (not split, or not yet)."""
    key = f"{deployment.output_prefix}{PARTS_FOLDER}{upload.key}/{upload.version or upload.etag}/progress.json"
    try:
        return json.loads(s3.get_object(Bucket=deployment.output_bucket, Key=key)["Body"].read())
    except botocore.exceptions.ClientError as error:
        if error.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
            return None
        raise


def describe_progress(state: Optional[dict]) -> str:
    if state is None:
        return "queued or being read"
    failed = f", {state['parts_failed']} failed (pages {state['failed_pages']})" if state["parts_failed"] else ""
    return (f"{state['pages_done']} of {state['pages']} pages read, "
            f"{state['parts_outstanding']} of {state['parts']} parts to go{failed}")


def wait(s3, deployment: Deployment, upload: Upload, timeout: float, out: TextIO = sys.stderr,
         clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> Result:
    """Poll until this upload's result is written; a progress line every REPORT_SECONDS."""
    start = clock()
    reported = -REPORT_SECONDS
    while (found := result(s3, deployment, upload)) is None:
        elapsed = clock() - start
        if elapsed >= timeout:
            raise OperatorError(f"{upload.key}: no result after {timeout:.0f} s "
                                f"({describe_progress(progress(s3, deployment, upload))}); "
                                f"look again with: paddleocr-efs result {upload.key}", NOT_YET)
        if elapsed - reported >= REPORT_SECONDS:
            print(f"{upload.key}: {describe_progress(progress(s3, deployment, upload))} ({elapsed:.0f} s)",
                  file=out, flush=True)
            reported = elapsed
        sleep(POLL_SECONDS)
    return found
