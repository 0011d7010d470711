"""Fixtures for the worker: a model mirror, an HTTP mirror that counts requests, a warm cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from constructs_lib.documents import CRASH_REDRIVE_RECEIVES, LEASE_SECONDS
from tests.iam.calls import CALL_LOG_ENV, INPUT_PREFIX, recorder_env
from tests.iam.render import Deployment
from tests.model_mirror import build_mirror


@pytest.fixture(scope="session")
def mirror(tmp_path_factory) -> Path:
    """A directory with the model archives and models.lock.json."""
    path = tmp_path_factory.mktemp("mirror")
    build_mirror(path)
    return path


class CountingMirror(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, directory: Path, throttle: float = 0.0) -> None:
        self.requests: list[str] = []
        self.throttle = throttle  # seconds per 64 KiB, to catch a download mid-way
        super().__init__(("127.0.0.1", 0), partial(_MirrorHandler, directory=str(directory)))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _MirrorHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        self.server.requests.append(self.path)
        super().do_GET()

    def copyfile(self, source, outputfile) -> None:
        while chunk := source.read(65536):
            outputfile.write(chunk)
            if self.server.throttle:
                time.sleep(self.server.throttle)


@pytest.fixture
def http_mirror(mirror):
    servers = []

    def start(throttle: float = 0.0) -> CountingMirror:
        server = CountingMirror(mirror, throttle)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()


def worker_env(cache: Path, lock: Path, source: str, **extra) -> dict:
    """A warm or worker process's environment; its AWS calls are recorded (tests/iam/calls.py)."""
    return {**os.environ, "PADDLE_PDX_CACHE_HOME": str(cache), "OCR_MODEL_LOCK": str(lock),
            "OCR_MODEL_SOURCE": source, "PYTHONUNBUFFERED": "1",
            **recorder_env(Path(os.environ[CALL_LOG_ENV])), **extra}


def run_cli(*args, env: dict, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ocr_worker", *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="session")
def warm_cache(tmp_path_factory, mirror) -> Path:
    """A cache warmed once from the file:// mirror, shared read-only by OCR tests."""
    cache = tmp_path_factory.mktemp("warm-cache")
    result = run_cli("warm", env=worker_env(cache, mirror / "models.lock.json", f"file://{mirror}"))
    assert result.returncode == 0, result.stdout + result.stderr
    return cache


@pytest.fixture(scope="session")
def onnx_cache(tmp_path_factory, mirror) -> Path:
    """A cache warmed for OCR_BACKEND=onnxruntime: the models and their paddle2onnx conversions."""
    cache = tmp_path_factory.mktemp("onnx-cache")
    result = run_cli("warm", env=worker_env(cache, mirror / "models.lock.json", f"file://{mirror}",
                                            OCR_BACKEND="onnxruntime"), timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    return cache


@pytest.fixture
def aws(iam_moto, service_doc):
    """Versioned input and output buckets, the jobs queue with the deployment's redrive (5 crashed
    receives) and its DLQ, in moto with IAM enforced; ``role_env``: the credentials of the task
    role the default synth gives the worker, created for these names. The test's own clients
    (``s3``, ``sqs``) are the administrator's."""
    s3, sqs = iam_moto.client("s3"), iam_moto.client("sqs")
    suffix = str(time.monotonic_ns())
    names = {"documents/input/bucket": f"in-{suffix}", "documents/output/bucket": f"out-{suffix}",
             "documents/queue": f"jobs-{suffix}", "documents/dlq": f"dlq-{suffix}"}
    for bucket in (names["documents/input/bucket"], names["documents/output/bucket"]):
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    dlq = sqs.create_queue(QueueName=names["documents/dlq"])["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue = sqs.create_queue(QueueName=names["documents/queue"], Attributes={
        "VisibilityTimeout": str(LEASE_SECONDS),
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(CRASH_REDRIVE_RECEIVES)})})[
        "QueueUrl"]
    deployment = Deployment(service_doc, names)
    role = iam_moto.create_role(deployment, "roles/task-role", f"task-{suffix}")
    return {"s3": s3, "sqs": sqs, "in": names["documents/input/bucket"], "out": names["documents/output/bucket"],
            "queue": queue, "dlq": dlq, "endpoint": iam_moto.endpoint, "deployment": deployment,
            "role_env": {**iam_moto.assume(role), "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1",
                         "AWS_ENDPOINT_URL": iam_moto.endpoint}, "prefix": INPUT_PREFIX}
