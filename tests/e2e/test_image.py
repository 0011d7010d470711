"""Build image/ with podman through the same script the Terraform hook runs, push it to a local
registry, pull it back, and run the guide's compose flow: warm fills a named volume from a model
mirror, a second warm starts from it, and `serve` reads the right text."""

import json

import subprocess
import threading
import time
import urllib.error
import urllib.request

import pytest

from constructs_lib.image_repository import content_hash
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
    env = podman_env(folder / "podman")
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
    yield {"env": env, "image": image_uri, "registry": registry, "mirror": mirror, "lock": mirror_dir / "models.lock.json"}
    mirror.shutdown()
    podman(env, "volume", "rm", "-f", VOLUME, check=False)
    registry.stop()


def run_container(built, *args, read_only_cache=False, detach=False):
    mount = f"{VOLUME}:/var/cache/paddlex" + (":ro" if read_only_cache else "")
    return podman(built["env"], "run", *(["-d"] if detach else ["--rm"]), "--network", "host",
                  "-v", mount, "-v", f"{built['lock']}:/app/test.lock.json:ro",
                  "-e", "OCR_MODEL_LOCK=/app/test.lock.json", "-e", f"OCR_MODEL_SOURCE={built['mirror'].url}",
                  built["image"], *args, check=False)


def test_the_pushed_tag_is_the_content_hash(built):
    repository, tag = built["image"].split("/", 1)[1].split(":")
    with urllib.request.urlopen(f"http://{built['registry'].address}/v2/{repository}/tags/list") as response:
        assert json.load(response)["tags"] == [tag]


def test_image_runs_as_the_access_point_user(built):
    result = podman(built["env"], "run", "--rm", "--entrypoint", "id", built["image"])
    assert result.stdout.startswith("uid=1000(ocr) gid=1000(ocr)")


def test_first_warm_fills_the_volume_then_a_second_starts_from_it(built):
    first = run_container(built, "warm")
    assert first.returncode == 0, first.stdout + first.stderr
    assert sorted(built["mirror"].requests) == ["/PP-OCRv5_mobile_det_infer.tar", "/PP-OCRv5_mobile_rec_infer.tar"]
    second = run_container(built, "warm")
    assert second.returncode == 0, second.stdout + second.stderr
    assert "Using cached models from /var/cache/paddlex/official_models" in second.stdout
    assert "downloading" not in second.stdout
    assert len(built["mirror"].requests) == 2  # nothing downloaded the second time


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
    assert len(built["mirror"].requests) == 2

