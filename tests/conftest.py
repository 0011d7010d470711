"""Shared fixtures. The provider bindings are imported once per test process, lazily."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

# jsii runs on the Node 22 that `make setup` installs from the npm registry, as under `make`.
NODE_BIN = Path(__file__).resolve().parent.parent / "node_modules" / ".bin"
if NODE_BIN.is_dir() and not os.environ.get("PATH", "").startswith(str(NODE_BIN)):
    os.environ["PATH"] = f"{NODE_BIN}{os.pathsep}{os.environ.get('PATH', '')}"

from tests.synth import load_stack, one, resources, settings, synth_app  # noqa: E402

PROVIDER_MIRROR = Path("/opt/tf-plugins")


@pytest.fixture(scope="session")
def default_stacks(tmp_path_factory) -> Path:
    """The default configuration, synthesized once per session."""
    return synth_app(tmp_path_factory.mktemp("default"), settings())


@pytest.fixture(scope="session")
def s3_stacks(tmp_path_factory) -> Path:
    s = settings(backend={"type": "s3", "bucket": "acme-tfstate"})
    return synth_app(tmp_path_factory.mktemp("s3"), s)




@pytest.fixture(scope="session")
def terraform_env(tmp_path_factory) -> dict:
    """Environment for the real terraform binary: the local provider mirror when there is one."""
    if shutil.which("terraform") is None:
        pytest.fail("terraform is not on PATH; the terraform tests need it")
    env = dict(os.environ, CHECKPOINT_DISABLE="1", TF_IN_AUTOMATION="1")
    cache = tmp_path_factory.mktemp("tf-plugin-cache")
    config = tmp_path_factory.mktemp("tf-cli") / "terraformrc"
    if PROVIDER_MIRROR.is_dir():
        config.write_text(
            f'provider_installation {{\n  filesystem_mirror {{\n    path = "{PROVIDER_MIRROR}"\n  }}\n}}\n'
            f'plugin_cache_dir = "{cache}"\n')
    else:
        config.write_text(f'plugin_cache_dir = "{cache}"\n')
    env["TF_CLI_CONFIG_FILE"] = str(config)
    return env


def pytest_configure(config):
    # Every worker process the tests start records its AWS calls here (tests/iam/calls.py), for
    # tests/worker/test_call_inventory.py, which runs after them (pytest_collection_modifyitems).
    from tests.iam.calls import CALL_LOG_ENV

    if CALL_LOG_ENV not in os.environ:
        config._aws_call_log = os.environ[CALL_LOG_ENV] = tempfile.mkdtemp(prefix="paddleocr-efs-aws-calls-")


def pytest_unconfigure(config):
    if getattr(config, "_aws_call_log", None):
        shutil.rmtree(config._aws_call_log, ignore_errors=True)


def pytest_collection_modifyitems(config, items):
    """The call inventory judges what the worker tiers recorded: it runs after every other test."""
    items.sort(key=lambda item: item.get_closest_marker("inventory") is not None)


def start_moto_server() -> tuple[subprocess.Popen, str]:
    from tests.e2e.harness import free_port, wait_for_port

    port = free_port()
    proc = subprocess.Popen([str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port)
    return proc, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="session")
def iam_moto():
    """A moto server with IAM enforced (tests/iam/moto.py): the worker runs as its task role."""
    from tests.iam.moto import IamMoto

    proc, endpoint = start_moto_server()
    server = IamMoto(endpoint)
    server.enforce()
    yield server
    proc.terminate()
    proc.wait(timeout=30)


@pytest.fixture(scope="session")
def moto_endpoint():
    """A plain-HTTP moto server on 127.0.0.1 for the session, IAM not enforced (Terraform plans)."""
    proc, endpoint = start_moto_server()
    yield endpoint
    proc.terminate()
    proc.wait(timeout=30)


def _mirror(tmp_path_factory, name: str) -> Path:
    from tests.model_mirror import build_mirror

    path = tmp_path_factory.mktemp(f"mirror-{name}")
    build_mirror(path, name)
    return path


def _warm(tmp_path_factory, mirror: Path) -> Path:
    from tests.worker.conftest import run_cli, worker_env

    cache = tmp_path_factory.mktemp("warm-cache")
    result = run_cli("warm", env=worker_env(cache, mirror / "models.lock.json", f"file://{mirror}"))
    assert result.returncode == 0, result.stdout + result.stderr
    return cache


@pytest.fixture(scope="session")
def mirror(tmp_path_factory) -> Path:
    """The default test set (tests/model_mirror.py: the production tiny tier's roles and ONNX
    format, real weights): its archives and models.lock.json."""
    return _mirror(tmp_path_factory, "tiny")


@pytest.fixture(scope="session")
def warm_cache(tmp_path_factory, mirror) -> Path:
    """A cache warmed once from the file:// mirror, shared read-only by OCR tests."""
    return _warm(tmp_path_factory, mirror)


@pytest.fixture(scope="session")
def paddle_mirror(tmp_path_factory) -> Path:
    """PP-OCRv5 mobile in Paddle format: the Paddle Inference engine and paddle2onnx's conversions."""
    return _mirror(tmp_path_factory, "v5-paddle")


@pytest.fixture(scope="session")
def paddle_cache(tmp_path_factory, paddle_mirror) -> Path:
    return _warm(tmp_path_factory, paddle_mirror)


@pytest.fixture(scope="session")
def service_doc(default_stacks) -> dict:
    """The default service stack's Terraform JSON."""
    return load_stack(default_stacks, "service")


@pytest.fixture(scope="session")
def containers(service_doc) -> dict:
    """The default task definition's containers by name."""
    task = one(resources(service_doc, "aws_ecs_task_definition"))
    return {c["name"]: c for c in json.loads(task["container_definitions"])}


@pytest.fixture
def aws(iam_moto, service_doc):
    """Versioned input and output buckets, the jobs queue with the deployment's redrive (5 crashed
    receives) and its DLQ, in moto with IAM enforced; ``role_env``: the credentials of the task
    role the default synth gives the worker, created for these names. The test's own clients
    (``s3``, ``sqs``) are the administrator's."""
    import time

    from constructs_lib.documents import CRASH_REDRIVE_RECEIVES, LEASE_SECONDS
    from tests.iam.render import Deployment

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
    role = iam_moto.create_role(Deployment(service_doc, names), "roles/task-role", f"task-{suffix}")
    return {"s3": s3, "sqs": sqs, "in": names["documents/input/bucket"], "out": names["documents/output/bucket"],
            "queue": queue, "dlq": dlq,
            "role_env": {**iam_moto.assume(role), "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1",
                         "AWS_ENDPOINT_URL": iam_moto.endpoint}}
