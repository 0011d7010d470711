"""The shared model cache under real concurrent processes, kills, corruption and read-only mounts,
on the default test set (the production tiny tier's ONNX models); paddle2onnx's conversions on
the Paddle-format set."""

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest
from ocr_worker.cache import MANIFEST
from ocr_worker.exits import EXIT_CHECKSUM, EXIT_LOCK_TIMEOUT, EXIT_READ_ONLY_MISSING, EXIT_SOURCE_UNREACHABLE
from ocr_worker.models import ModelLock, ModelSpec

from tests.iam.render import Deployment
from tests.iam.variants import MODEL_SOURCE, MODEL_SOURCE_BUCKET
from tests.synth import load_stack, settings, synth_app
from tests.worker.conftest import run_cli, worker_env

pytestmark = pytest.mark.slow


def lock_of(mirror):
    return mirror / "models.lock.json"


def model(mirror, role: str) -> ModelSpec:
    return ModelLock.load(lock_of(mirror)).by_role()[role]


def test_cold_warm_publishes_every_model_with_a_manifest(tmp_path, mirror):
    env = worker_env(tmp_path, lock_of(mirror), f"file://{mirror}")
    result = run_cli("warm", env=env)
    assert result.returncode == 0, result.stdout
    for spec in ModelLock.load(lock_of(mirror)).models:
        folder = tmp_path / "official_models" / spec.package
        manifest = json.loads((folder / MANIFEST).read_text())
        assert manifest["archive_sha256"] == spec.sha256
        assert set(manifest["files"]) == {"inference.onnx", "inference.yml"}
    assert not any((tmp_path / ".staging").iterdir())
    second = run_cli("warm", env=env)
    assert second.returncode == 0
    assert f"Using cached models from {tmp_path / 'official_models'}" in second.stdout
    assert "downloading" not in second.stdout


@pytest.mark.moto
def test_warm_from_an_s3_source_as_the_task_role_synthesized_for_it(tmp_path, mirror, iam_moto):
    """``models.source: s3://...`` adds exactly a read of the archives; warm runs as that role,
    with IAM enforced (HeadObject, then s3transfer's ranged GetObjects)."""
    deployment = Deployment(load_stack(synth_app(tmp_path / "synth", settings(models={"source": MODEL_SOURCE})),
                                       "service"))
    role = iam_moto.create_role(deployment, "roles/task-role", f"warm-{time.monotonic_ns()}")
    s3 = iam_moto.client("s3")
    if MODEL_SOURCE_BUCKET not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket=MODEL_SOURCE_BUCKET)
    prefix = MODEL_SOURCE.removeprefix(f"s3://{MODEL_SOURCE_BUCKET}/")
    for spec in ModelLock.load(lock_of(mirror)).models:
        s3.upload_file(str(mirror / spec.archive), MODEL_SOURCE_BUCKET, f"{prefix}/{spec.archive}")
    env = worker_env(tmp_path / "cache", lock_of(mirror), MODEL_SOURCE, **iam_moto.assume(role),
                     AWS_ENDPOINT_URL=iam_moto.endpoint, AWS_DEFAULT_REGION="us-east-1")
    result = run_cli("warm", env=env)
    assert result.returncode == 0, result.stdout
    assert run_cli("verify", env=env).returncode == 0


def test_eight_concurrent_warmers_download_each_model_exactly_once(tmp_path, mirror, http_mirror):
    server = http_mirror()
    env = worker_env(tmp_path, lock_of(mirror), server.url)
    procs = [subprocess.Popen([sys.executable, "-m", "ocr_worker", "warm"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for _ in range(8)]
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0] * 8, outputs
    lock = ModelLock.load(lock_of(mirror))
    assert sorted(server.requests) == sorted(f"/{spec.archive}" for spec in lock.models)
    assert all("Using cached models from" in out for out in outputs)
    verify = run_cli("verify", env=env)
    assert verify.returncode == 0 and verify.stdout.count(" ready ") == len(lock.models) == 3


def test_warmer_killed_mid_download_is_recovered_by_the_next(tmp_path, mirror, http_mirror):
    slow = http_mirror(throttle=0.05)  # ~1.3 MB/s: the 4.5 MB recognizer, downloaded last, takes seconds
    env = worker_env(tmp_path, lock_of(mirror), slow.url)
    rec = model(mirror, "text_recognition")
    victim = subprocess.Popen([sys.executable, "-m", "ocr_worker", "warm"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    partial = tmp_path / ".staging" / rec.archive
    deadline = time.monotonic() + 120
    while not (partial.exists() and partial.stat().st_size > 0):  # the last model is mid-download
        assert time.monotonic() < deadline, "the warmer never started the last download"
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert not (tmp_path / "official_models" / rec.package).exists()  # never half-published

    fast = http_mirror()
    result = run_cli("warm", env=worker_env(tmp_path, lock_of(mirror), fast.url))
    assert result.returncode == 0, result.stdout
    assert "removing staging left by an interrupted warmer" in result.stdout
    assert fast.requests == [f"/{rec.archive}"]  # the others were already published
    assert run_cli("verify", env=env).returncode == 0


def test_sigterm_mid_download_exits_zero_promptly_and_the_next_warmer_recovers(tmp_path, mirror, http_mirror):
    """A task stopped during warm-up (scale-in, a deployment, Spot) is no failure: before, warm
    had no SIGTERM handler, exited 143, and the "task failed" alarm (any non-zero exit) fired."""
    slow = http_mirror(throttle=0.05)
    env = worker_env(tmp_path, lock_of(mirror), slow.url)
    rec = model(mirror, "text_recognition")
    warmer = subprocess.Popen([sys.executable, "-m", "ocr_worker", "warm"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    partial = tmp_path / ".staging" / rec.archive
    deadline = time.monotonic() + 120
    while not (partial.exists() and partial.stat().st_size > 0):
        assert time.monotonic() < deadline, "the warmer never started the last download"
        time.sleep(0.05)
    warmer.send_signal(signal.SIGTERM)
    sent = time.monotonic()
    out = warmer.communicate(timeout=30)[0]
    assert warmer.returncode == 0, out
    assert time.monotonic() - sent < 10, "not prompt"
    assert '"message": "stopped before ready"' in out
    assert not (tmp_path / "official_models" / rec.package).exists()
    assert run_cli("warm", env=worker_env(tmp_path, lock_of(mirror), f"file://{mirror}")).returncode == 0
    assert run_cli("verify", env=env).returncode == 0


@pytest.mark.parametrize("damage", ["truncate", "flip", "delete", "manifest"])
def test_damaged_published_model_is_quarantined_and_fetched_again(tmp_path, mirror, damage):
    env = worker_env(tmp_path, lock_of(mirror), f"file://{mirror}")
    assert run_cli("warm", env=env).returncode == 0
    det = model(mirror, "text_detection")
    folder = tmp_path / "official_models" / det.package
    params = folder / "inference.onnx"
    if damage == "truncate":
        os.truncate(params, params.stat().st_size // 2)
    elif damage == "flip":
        data = bytearray(params.read_bytes())
        data[100] ^= 0xFF
        params.write_bytes(bytes(data))
    elif damage == "delete":
        (folder / "inference.yml").unlink()
    else:
        (folder / MANIFEST).unlink()
    verify = run_cli("verify", env=env)
    assert verify.returncode == 1 and "corrupt" in verify.stdout
    result = run_cli("warm", env=env)
    assert result.returncode == 0, result.stdout
    assert f"quarantining {det.name}" in result.stdout
    assert len(list((tmp_path / ".quarantine").iterdir())) == 1
    assert run_cli("verify", env=env).returncode == 0


def test_half_written_folder_left_by_paddlex_is_not_trusted(tmp_path, mirror):
    rec = model(mirror, "text_recognition")
    (tmp_path / "official_models" / rec.package).mkdir(parents=True)
    (tmp_path / "official_models" / rec.package / "inference.yml").write_text("")
    result = run_cli("warm", env=worker_env(tmp_path, lock_of(mirror), f"file://{mirror}"))
    assert result.returncode == 0 and f"quarantining {rec.name}" in result.stdout


def test_a_paddle_format_model_of_the_same_name_is_neither_trusted_nor_touched(tmp_path, mirror, paddle_cache):
    """The image before the tiers published PP-LCNet_x1_0_doc_ori in Paddle format under
    official_models/<name>; the ONNX package is <name>_onnx beside it, so tasks of both images can
    share the cache during a rolling deployment."""
    doc_ori = model(mirror, "doc_orientation")
    old = tmp_path / "official_models" / doc_ori.name
    shutil.copytree(paddle_cache / "official_models" / "PP-OCRv5_mobile_det", old)
    before = sorted(p.name for p in old.iterdir())
    result = run_cli("warm", env=worker_env(tmp_path, lock_of(mirror), f"file://{mirror}"))
    assert result.returncode == 0, result.stdout
    assert "quarantining" not in result.stdout and sorted(p.name for p in old.iterdir()) == before
    assert (tmp_path / "official_models" / doc_ori.package / "inference.onnx").is_file()


def test_a_published_folder_without_its_formats_files_is_corrupt(tmp_path, mirror, paddle_cache):
    """A Paddle-format model, manifest and all, where an unpinned lock (as the image ships its
    tiers) wants the ONNX package: no checksum to catch it, the format's files do."""
    unpinned = tmp_path / "unpinned.lock.json"
    ModelLock(tuple(ModelSpec(m.name, m.role, format=m.format) for m in ModelLock.load(lock_of(mirror)).models)).save(
        unpinned)
    det = model(mirror, "text_detection")
    shutil.copytree(paddle_cache / "official_models" / "PP-OCRv5_mobile_det", tmp_path / "official_models" / det.package)
    verify = run_cli("verify", env=worker_env(tmp_path, unpinned, f"file://{mirror}"))
    assert verify.returncode == 1
    assert re.search(rf"^{det.name} +corrupt .* holds no inference.onnx$", verify.stdout, re.M), verify.stdout


def test_read_only_cache_with_a_model_missing(tmp_path, mirror):
    """A real read-only mount (EROFS), as the worker container mounts the cache."""
    cache = tmp_path / "cache"
    cache.mkdir()
    env = worker_env(cache, lock_of(mirror), f"file://{mirror}")
    script = (f"mount --bind {cache} {cache} && mount -o remount,ro,bind {cache} && "
              f"exec {sys.executable} -m ocr_worker warm")
    result = subprocess.run(["unshare", "--mount", "sh", "-c", script], env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == EXIT_READ_ONLY_MISSING, result.stdout + result.stderr
    names = ", ".join(spec.name for spec in ModelLock.load(lock_of(mirror)).models)
    assert f"is read-only and these models are not ready: {names}" in result.stdout


def test_checksum_mismatch(tmp_path, mirror):
    lock = ModelLock.load(lock_of(mirror))
    bad = tmp_path / "bad.lock.json"
    ModelLock((ModelSpec(lock.models[0].name, lock.models[0].role, "0" * 64, lock.models[0].size,
                         lock.models[0].format),)).save(bad)
    result = run_cli("warm", env=worker_env(tmp_path / "c", bad, f"file://{mirror}"))
    assert result.returncode == EXIT_CHECKSUM
    assert "checksum mismatch" in result.stdout
    assert not (tmp_path / "c" / "official_models" / lock.models[0].package).exists()


def test_source_unreachable(tmp_path, mirror):
    result = run_cli("warm", env=worker_env(tmp_path, lock_of(mirror), "http://127.0.0.1:9"))
    assert result.returncode == EXIT_SOURCE_UNREACHABLE
    assert "model source unreachable" in result.stdout
    assert len(result.stdout.strip().splitlines()[-1]) < 400


def test_lock_timeout_when_another_warmer_holds_the_lock(tmp_path, mirror):
    tmp_path.joinpath("official_models").mkdir()
    fd = os.open(tmp_path / ".warm.lock", os.O_RDWR | os.O_CREAT)
    holder = subprocess.Popen([sys.executable, "-c", f"import fcntl,os,time; fd=os.open({str(tmp_path / '.warm.lock')!r}, os.O_RDWR); "
                               "fcntl.lockf(fd, fcntl.LOCK_EX); print('held', flush=True); time.sleep(60)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        result = run_cli("warm", env=worker_env(tmp_path, lock_of(mirror), f"file://{mirror}", OCR_LOCK_TIMEOUT="1"))
    finally:
        holder.kill()
        os.close(fd)
    assert result.returncode == EXIT_LOCK_TIMEOUT
    assert "for more than 1 s" in result.stdout


def test_unpinned_entries_are_recorded_then_pinned_by_lock(tmp_path, mirror):
    pinned = ModelLock.load(lock_of(mirror))
    unpinned = tmp_path / "unpinned.lock.json"
    ModelLock(tuple(ModelSpec(m.name, m.role, format=m.format) for m in pinned.models)).save(unpinned)
    env = worker_env(tmp_path / "c", unpinned, f"file://{mirror}")
    result = run_cli("warm", env=env)
    assert result.returncode == 0 and "no checksum pinned" in result.stdout
    assert run_cli("lock", env=env).returncode == 0
    assert ModelLock.load(unpinned) == pinned


def onnx_env(tmp_path, mirror):
    """A Paddle-format lock on ONNX Runtime: warm converts each model."""
    return worker_env(tmp_path, lock_of(mirror), f"file://{mirror}", OCR_BACKEND="onnxruntime")


def test_concurrent_warmers_convert_each_model_to_onnx_exactly_once(tmp_path, paddle_mirror):
    env = onnx_env(tmp_path, paddle_mirror)
    procs = [subprocess.Popen([sys.executable, "-m", "ocr_worker", "warm"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for _ in range(3)]
    outputs = [p.communicate(timeout=600)[0] for p in procs]
    assert [p.returncode for p in procs] == [0] * 3, outputs
    for spec in ModelLock.load(lock_of(paddle_mirror)).models:
        assert sum(out.count(f"converting {spec.name} to ONNX") for out in outputs) == 1
        manifest = json.loads((tmp_path / "onnx_models" / spec.name / MANIFEST).read_text())
        assert manifest["archive_sha256"] == spec.sha256 and set(manifest["files"]) == {"inference.onnx",
                                                                                         "inference.yml"}
    assert not any((tmp_path / ".staging").iterdir())
    verify = run_cli("verify", env=env)
    assert verify.returncode == 0 and verify.stdout.count(" ready ") == 4 and "(onnx)" in verify.stdout
    # The Paddle-format models as published; the paddle backend never looks at the conversions.
    assert set(json.loads((tmp_path / "official_models" / spec.name / MANIFEST).read_text())["files"]) == \
           {"inference.json", "inference.pdiparams", "inference.yml"}
    paddle = worker_env(tmp_path, lock_of(paddle_mirror), f"file://{paddle_mirror}")
    assert run_cli("verify", env=paddle).stdout.count(" ready ") == 2


def test_paddle_inference_refuses_an_onnx_lock_in_one_line(tmp_path, mirror):
    result = run_cli("warm", env=worker_env(tmp_path, lock_of(mirror), f"file://{mirror}", OCR_BACKEND="paddle"))
    assert result.returncode == 2, result.stdout
    [error] = [json.loads(line) for line in result.stdout.splitlines() if '"error"' in line]
    assert error["message"].startswith("config error: OCR_BACKEND=paddle cannot run ONNX-format models (")
    assert not (tmp_path / "official_models").exists()


def test_a_damaged_conversion_is_quarantined_and_converted_again(tmp_path, paddle_mirror):
    env = onnx_env(tmp_path, paddle_mirror)
    assert run_cli("warm", env=env, timeout=600).returncode == 0
    model = tmp_path / "onnx_models" / "PP-OCRv5_mobile_rec" / "inference.onnx"
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, one flipped byte
    model.write_bytes(bytes(data))
    verify = run_cli("verify", env=env)
    assert verify.returncode == 1 and "PP-OCRv5_mobile_rec (onnx)       corrupt" in verify.stdout
    result = run_cli("warm", env=env, timeout=600)
    assert result.returncode == 0, result.stdout
    assert "quarantining PP-OCRv5_mobile_rec (onnx)" in result.stdout and "downloading" not in result.stdout
    assert run_cli("verify", env=env).returncode == 0


def test_a_failed_conversion_is_one_line_and_exit_16(tmp_path, paddle_mirror):
    assert run_cli("warm", env=worker_env(tmp_path, lock_of(paddle_mirror), f"file://{paddle_mirror}")).returncode == 0
    # A published model whose program paddle2onnx cannot read (its manifest updated to match).
    folder = tmp_path / "official_models" / "PP-OCRv5_mobile_det"
    (folder / "inference.json").write_text("{}")
    manifest = json.loads((folder / MANIFEST).read_text())
    manifest["files"]["inference.json"] = {"size": 2, "sha256": hashlib.sha256(b"{}").hexdigest()}
    (folder / MANIFEST).write_text(json.dumps(manifest))
    result = run_cli("warm", env=onnx_env(tmp_path, paddle_mirror), timeout=600)
    assert result.returncode == 16
    [error] = [json.loads(line) for line in result.stdout.splitlines() if '"error"' in line]
    assert error["message"].startswith("PP-OCRv5_mobile_det: paddle2onnx exited ")
    assert not (tmp_path / "onnx_models" / "PP-OCRv5_mobile_det").exists()
