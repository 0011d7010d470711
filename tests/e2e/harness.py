"""Helpers for the end-to-end tests: a TLS moto server, a project copy, cdktf and terraform runs."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAUNCHER = Path(__file__).with_name("moto_launcher.py")
PROJECT_FILES = ("main.py", "cdktf.json", "constructs_lib", "image", "package.json", "Makefile", "pyproject.toml",
                 "requirements.lock")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")
            time.sleep(0.2)


def self_signed_cert(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1: moto serves real TLS, so TLS-only policies hold as on AWS."""
    cert, key = folder / "moto.crt", folder / "moto.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


class MotoServer:
    def __init__(self, folder: Path) -> None:
        self.cert, key = self_signed_cert(folder)
        self.port = free_port()
        self.log = open(folder / "moto.log", "w")
        self.proc = subprocess.Popen(
            [sys.executable, str(LAUNCHER), "127.0.0.1", str(self.port), str(self.cert), str(key)],
            env={**os.environ, "MOTO_IAM_LOAD_MANAGED_POLICIES": "true"}, stdout=self.log, stderr=subprocess.STDOUT)
        wait_for_port(self.port)
        self.endpoint = f"https://127.0.0.1:{self.port}"

    def env(self) -> dict:
        return {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_REGION": "us-east-1", "AWS_CA_BUNDLE": str(self.cert), "AWS_ENDPOINT_URL": self.endpoint}

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)
        self.log.close()


def project_copy(dest: Path) -> Path:
    """The app as a user has it, in ``dest``; the installed .venv and node_modules are linked."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_FILES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(src, dest / name)
    for link in (".venv", ".venv-cdktn", "node_modules"):
        (dest / link).symlink_to(ROOT / link)
    return dest


def run(cmd: list[str], cwd: Path, env: dict, timeout: float = 1800, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {result.returncode}:\n{result.stdout[-6000:]}\n{result.stderr[-3000:]}")
    return result
