"""Real third-party documents: the test resources that ship in ocrmypdf's sdist on PyPI, and two
Spanish manuals from Debian's packages (born-digital PDFs: their text layer is the known text).

Fetched once per machine with pip or apt-get (PyPI and Debian are reachable here; no other site
is), checked against a pinned sha256, and unpacked into ~/.cache/paddleocr-efs-corpus. README.rst
in the sdist lists each file's source and licence; the manuals are under the GPL (their packages'
copyright files).
"""

from __future__ import annotations

import gzip
import hashlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
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


#: Debian package, version, sha256 of the .deb, and the PDF inside it.
MANUALS = {
    "eyes17.es.pdf": ("eyes17-manuals-es", "5.1.2+repack-1",
                      "fb93f01b80dd5c1c69f67bdf0b9df0cd9ef587ec90b37773948a4152772a161e",
                      "usr/share/doc/eyes17/es/eyes17.pdf.gz"),
    "maint-guide.es.pdf": ("maint-guide-es", "1.2.53",
                           "5a76b5e43285173ce4cce9284fb47b9a1851a68a9c0c0b8300c338d8890a42b6",
                           "usr/share/doc/maint-guide-es/maint-guide.es.pdf"),
}


def manual(name: str) -> Path:
    """One of MANUALS, downloading its Debian package the first time."""
    target = CACHE.parent / "debian" / name
    if target.is_file():
        return target
    package, version, sha256, member = MANUALS[name]
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["apt-get", "download", f"{package}={version}"], cwd=tmp, check=True, timeout=600,
                       capture_output=True)
        [deb] = Path(tmp).glob("*.deb")
        digest = hashlib.sha256(deb.read_bytes()).hexdigest()
        if digest != sha256:
            raise RuntimeError(f"{deb.name}: sha256 {digest}, expected {sha256}")
        subprocess.run(["dpkg-deb", "-x", str(deb), tmp], check=True, timeout=300)
        source = Path(tmp) / member
        staged = _mkparent(target).with_suffix(".partial")
        with (gzip.open(source) if member.endswith(".gz") else open(source, "rb")) as src, open(staged, "wb") as dst:
            shutil.copyfileobj(src, dst)
        staged.rename(target)
    return target


def _mkparent(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path
