"""Build image/ with podman through the same script the Terraform hook runs, push it to a local
registry, pull it back, and run it two ways:

- the synthesized task definition, through the Fargate-faithful runner (fargate_local):
  warm an empty EFS stand-in, start the worker only after the warmer succeeded, pass the task's
  health check, OCR a document from a moto queue into a moto bucket, and drain on stop;
- the guide's compose flow: warm fills a named volume from a model mirror, a second warm starts
  from it, and `serve` reads the right text.

Both run the image's own default lock (the tiny tier, unpinned as shipped) against a mirror of
the default test set, whose models have that lock's names, roles and format
(tests/model_mirror.py): what a deployment downloads, but from real weights of a registry package.

Set PADDLEOCR_EFS_PODMAN_STORE to a directory to keep podman's storage between runs: the base
image and unchanged build layers are then reused (the tier takes about 5.5 minutes with fresh storage).
"""

import json
import os
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from constructs_lib.image_repository import content_hash
from fargate_local import LocalTask, TaskDefinition
from ocr_worker.models import ModelLock
from tests.e2e.containers import Registry, build_args, make_base_image, podman, podman_env
from tests.e2e.harness import ROOT, free_port
from tests.model_mirror import build_mirror
from tests.worker.conftest import CountingMirror
from tests.worker.docs import INVOICE, encode, text_image

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
VOLUME = "paddlex-cache-e2e"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    folder = tmp_path_factory.mktemp("podman")
    store = os.environ.get("PADDLEOCR_EFS_PODMAN_STORE")
    env = podman_env(Path(store) if store else folder / "podman")
    make_base_image(env, folder)
    registry = Registry(folder)
    image_uri = f"{registry.address}/ocr-worker:{content_hash(ROOT / 'image')}"
    hook_env = {**env, "IMAGE_URI": image_uri, "CONTAINER_CLI": "podman", "SKIP_ECR_LOGIN": "1",
                "PUSH_ARGS": "--tls-verify=false", "BUILD_ARGS": build_args(folder)}
    result = subprocess.run(["./build_and_push.sh"], cwd=ROOT / "image", env=hook_env, capture_output=True, text=True,
                            timeout=3600)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    # Run what the registry holds, not the local build.
    podman(env, "rmi", "-f", image_uri)
    podman(env, "pull", "--tls-verify=false", image_uri)
    mirror_dir = folder / "mirror"
    build_mirror(mirror_dir)
    mirror = CountingMirror(mirror_dir)
    threading.Thread(target=mirror.serve_forever, daemon=True).start()
    podman(env, "volume", "rm", "-f", VOLUME, check=False)
    yield {"env": env, "image": image_uri, "registry": registry, "mirror": mirror, "lock": mirror_dir / "models.lock.json",
           "mirror_dir": mirror_dir}
    mirror.shutdown()
    podman(env, "volume", "rm", "-f", VOLUME, check=False)
    registry.stop()


def run_container(built, *args, read_only_cache=False, detach=False):
    mount = f"{VOLUME}:/var/cache/paddlex" + (":ro" if read_only_cache else "")
    return podman(built["env"], "run", *(["-d"] if detach else ["--rm"]), "--network", "host",
                  "-v", mount, "-e", f"OCR_MODEL_SOURCE={built['mirror'].url}", built["image"], *args, check=False)


def test_the_pushed_tag_is_the_content_hash(built):
    repository, tag = built["image"].split("/", 1)[1].split(":")
    with urllib.request.urlopen(f"http://{built['registry'].address}/v2/{repository}/tags/list") as response:
        assert json.load(response)["tags"] == [tag]


def test_the_hook_skips_a_tag_the_registry_already_holds(built):
    # Tags are immutable in ECR: a rollback to an earlier image/ must not push its tag again.
    env = {**built["env"], "IMAGE_URI": built["image"], "CONTAINER_CLI": "podman", "SKIP_ECR_LOGIN": "1",
           "PUSH_ARGS": "--tls-verify=false", "BUILD_ARGS": "--no-such-flag"}  # a build would fail
    result = subprocess.run(["./build_and_push.sh"], cwd=ROOT / "image", env=env, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "already in the registry; skipping the build and push" in result.stdout


def test_image_runs_as_the_access_point_user(built):
    result = podman(built["env"], "run", "--rm", "--entrypoint", "id", built["image"])
    assert result.stdout.startswith("uid=1000(ocr) gid=1000(ocr)")


def test_the_default_image_has_no_paddle_and_refuses_a_paddle_lock_in_one_line(built, tmp_path):
    no_paddle = podman(built["env"], "run", "--rm", "--entrypoint", "python", built["image"], "-c",
                       "import importlib.util as u; print(u.find_spec('paddle'), u.find_spec('paddle2onnx'))")
    assert no_paddle.stdout.strip() == "None None"
    lock = build_mirror(tmp_path / "paddle", "v5-paddle")
    result = podman(built["env"], "run", "--rm", "--network", "host", "-v", f"{lock.parent}:/mirror:ro",
                    "-e", "OCR_MODEL_LOCK=/mirror/models.lock.json", "-e", "OCR_MODEL_SOURCE=file:///mirror",
                    "-e", "OCR_BACKEND=onnxruntime", built["image"], "warm", check=False)
    assert result.returncode == 16, result.stdout + result.stderr
    [error] = [json.loads(line) for line in result.stdout.splitlines() if '"error"' in line]
    assert error["message"] == ("PP-OCRv5_mobile_det: a Paddle-format model needs paddle2onnx to run on onnxruntime, "
                                "and this image has none: build it with ENGINE=paddle, or use a lock of "
                                "ONNX-format models")


def test_first_warm_fills_the_volume_then_a_second_starts_from_it(built):
    first = run_container(built, "warm")
    assert first.returncode == 0, first.stdout + first.stderr
    archives = sorted(f"/{spec.archive}" for spec in ModelLock.load(built["lock"]).models)
    assert sorted(built["mirror"].requests) == archives and len(archives) == 3
    second = run_container(built, "warm")
    assert second.returncode == 0, second.stdout + second.stderr
    assert "Using cached models from /var/cache/paddlex/official_models" in second.stdout
    assert "downloading" not in second.stdout
    assert len(built["mirror"].requests) == 3  # nothing downloaded the second time


def test_serve_reads_the_text_from_the_cached_models(built):

    port = free_port()
    started = run_container(built, "serve", "--port", str(port), read_only_cache=True, detach=True)
    assert started.returncode == 0, started.stderr
    container = started.stdout.strip()
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as response:
                    if response.status == 200:
                        break
            except urllib.error.HTTPError as error:
                state = json.load(error)
                assert state["status"] == "loading", f"model load failed in the container: {state['error']}"
            except OSError:
                pass
            assert time.monotonic() < deadline, podman(built["env"], "logs", container, check=False).stdout[-3000:]
            time.sleep(1)
        request = urllib.request.Request(f"http://127.0.0.1:{port}/ocr", data=encode(text_image(INVOICE), "PNG"),
                                         method="POST")
        with urllib.request.urlopen(request, timeout=300) as response:
            body = json.load(response)
        assert [line["text"] for line in body["pages"][0]["lines"]] == [INVOICE]
    finally:
        podman(built["env"], "rm", "-f", container, check=False)
    assert len(built["mirror"].requests) == 3



# -- the synthesized task, run the way Fargate runs it ------------------------------------------

def started_and_finished(built, local, container):
    state = json.loads(podman(built["env"], "inspect", local.states[container].name).stdout)[0]["State"]
    return state["StartedAt"], state["FinishedAt"]


def test_the_synthesized_task_runs_under_fargate_rules(built, default_stacks, aws, tmp_path):
    """The task definition of the default synth, unchanged but for the image and the values that
    Terraform would fill in (queue URL, bucket), with the credentials of the task role the same
    synth gives it, in moto with IAM enforced (tests/conftest.py ``aws``): not admin keys."""
    aws["s3"].put_object(Bucket=aws["in"], Key="incoming/invoice.png", Body=encode(text_image(INVOICE), "PNG"))
    aws["sqs"].send_message(QueueUrl=aws["queue"], MessageBody=json.dumps({"bucket": aws["in"],
                                                                           "key": "incoming/invoice.png"}))
    requests_before = len(built["mirror"].requests)
    task = LocalTask(
        TaskDefinition.from_stacks(default_stacks), tmp_path / "run", cli="podman", cli_env=built["env"],
        image=built["image"], efs_roots={"model-cache": tmp_path / "efs"},
        env={**aws["role_env"], "OCR_QUEUE_URL": aws["queue"], "OCR_DLQ_URL": aws["dlq"],
             "OCR_OUTPUT_BUCKET": aws["out"], "OCR_MODEL_SOURCE": built["mirror"].url, "OCR_WAIT_SECONDS": "2"})
    task.start()
    try:
        task.wait_for(lambda t: t.states["ocr-worker"].status == "RUNNING", 600, "the worker starts")
        warmer = task.states["model-warmer"]
        assert (warmer.status, warmer.exit_code) == ("STOPPED", 0), task.logs("model-warmer")[-3000:]
        _, warm_finished = started_and_finished(built, task, "model-warmer")
        worker_started, _ = started_and_finished(built, task, "ocr-worker")
        assert worker_started >= warm_finished, "the worker started before the warmer succeeded"
        assert len(built["mirror"].requests) - requests_before == 3  # each model downloaded once

        task.wait_for(lambda t: t.states["ocr-worker"].health == "HEALTHY", 300, "the worker passes its health check")
        deadline = time.monotonic() + 300
        while "Contents" not in aws["s3"].list_objects_v2(Bucket=aws["out"], Prefix="results/"):
            assert time.monotonic() < deadline and not task.wait(0), task.describe() + task.logs("ocr-worker")[-3000:]
            time.sleep(1)
        result = json.loads(aws["s3"].get_object(Bucket=aws["out"], Key="results/incoming/invoice.png.json")[
            "Body"].read())
        assert [line["text"] for page in result["pages"] for line in page["lines"]] == [INVOICE]
        attributes = aws["sqs"].get_queue_attributes(QueueUrl=aws["queue"], AttributeNames=["All"])["Attributes"]
        assert (attributes["ApproximateNumberOfMessages"], attributes["ApproximateNumberOfMessagesNotVisible"]) == (
            "0", "0")

        task.stop("test: drain")
        worker = task.states["ocr-worker"]
        assert worker.exit_code == 0, f"not drained within its stopTimeout: {task.describe()}"
        assert '"message": "stopped"' in task.logs("ocr-worker")
    finally:
        if not task.wait(0):
            task.stop("test teardown")
        logs = {name: task.logs(name) for name in task.states}
        task.remove()
        for name, text in logs.items():  # shown by pytest when the test fails
            print(f"--- {name} ---\n{text[-4000:]}")
    assert "PermissionError" not in logs["ocr-worker"], logs["ocr-worker"][-3000:]
