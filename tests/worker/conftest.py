"""Fixtures for the worker: a model mirror, an HTTP mirror that counts requests, a warm cache."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.iam.calls import CALL_LOG_ENV, recorder_env


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
def onnx_cache(tmp_path_factory, paddle_mirror) -> Path:
    """The Paddle-format set warmed for OCR_BACKEND=onnxruntime: the models and their paddle2onnx
    conversions."""
    cache = tmp_path_factory.mktemp("onnx-cache")
    result = run_cli("warm", env=worker_env(cache, paddle_mirror / "models.lock.json", f"file://{paddle_mirror}",
                                            OCR_BACKEND="onnxruntime"), timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    return cache
