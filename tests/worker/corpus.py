"""Real third-party documents: the test resources that ship in ocrmypdf's sdist on PyPI.

Fetched once per machine with pip (PyPI is reachable here; no other site is), checked against a
pinned sha256, and unpacked into ~/.cache/paddleocr-efs-corpus. README.rst in the sdist lists each
file's source and licence.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tarfile
from pathlib import Path

SDIST = "ocrmypdf==16.10.4"
SHA256 = "de749ef5f554b63d57e68d032e7cba5500cbd5030835bf24f658f7b7a04f3dc1"
CACHE = Path.home() / ".cache" / "paddleocr-efs-corpus" / "ocrmypdf-16.10.4"


def resources() -> Path:
    """The folder of ocrmypdf's tests/resources, downloading the sdist the first time."""
    folder = CACHE / "resources"
    if folder.is_dir():
        return folder
    download = CACHE.parent / "download"
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
                    "-d", str(download), SDIST], check=True, timeout=600)
    [archive] = download.glob("ocrmypdf-16.10.4.tar.gz")
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    if digest != SHA256:
        raise RuntimeError(f"{archive.name}: sha256 {digest}, expected {SHA256}")
    staging = CACHE.parent / "staging"
    with tarfile.open(archive) as tar:
        members = [m for m in tar.getmembers() if "/tests/resources/" in m.name and m.isfile()]
        tar.extractall(staging, members=members, filter="data")
    (staging / "ocrmypdf-16.10.4" / "tests" / "resources").rename(_mkparent(folder))
    return folder


def _mkparent(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path
