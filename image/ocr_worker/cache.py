"""A PaddleX model cache that many tasks can fill at once, on EFS or any POSIX file system.

Layout under the cache home (``PADDLE_PDX_CACHE_HOME``)::

    official_models/<package>/         published models: <name> in Paddle format, <name>_onnx in
                                       ONNX (PaddleX's package names), so both formats coexist
    official_models/<package>/.manifest.json   what was published: archive sha256, every file's sha256
    onnx_models/<name>/                a Paddle-format model converted by paddle2onnx for
                                       OCR_BACKEND=onnxruntime, published the same way; its
                                       manifest names its source archive
    .staging/<name>/                   a download in progress (same file system: rename is atomic)
    .quarantine/<name>.<time>/         a published model that failed verification
    .warm.lock                         fcntl lock: one warmer at a time (EFS supports it)

PaddleX itself trusts any folder that exists, and its downloads are a copy on EFS, not a rename,
so a crash leaves half-written folders that every later task trusts. Here a model is published
only by an atomic rename of a fully verified, fsynced folder, and trusted only if its manifest
matches the files.

Size: one module and one class, because warming is one transaction over the shared folder: the
lock, the staging, the checks, the conversion and the publish share the cache home, the manifest
format and the lock's lifetime, and each step's failure maps to one exit code.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.util
import json
import logging
import os
import shutil
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ocr_worker.exits import (
    EXIT_BAD_ARCHIVE,
    EXIT_CHECKSUM,
    EXIT_CONVERSION,
    EXIT_LOCK_TIMEOUT,
    EXIT_READ_ONLY_MISSING,
    EXIT_SOURCE_UNREACHABLE,
    CacheError,
)
from ocr_worker.models import REQUIRED_FILES, ModelLock, ModelSpec, SourceUnreachable, fetch

log = logging.getLogger("ocr_worker.cache")

MANIFEST = ".manifest.json"

#: OCR_BACKEND: Paddle Inference (Paddle-format models), or ONNX Runtime (ONNX-format models, and
#: Paddle-format ones converted by ``warm``). Unset: ONNX Runtime if the lock has an ONNX model.
BACKENDS = ("paddle", "onnxruntime")
#: Seconds one paddle2onnx conversion may take (a mobile model takes a few).
CONVERSION_TIMEOUT = 600


def resolve_backend(lock: ModelLock, requested: Optional[str]) -> str:
    """The engine for ``lock``: ``requested``, or the one its formats call for. ValueError names
    the models Paddle Inference cannot load."""
    onnx = [m.name for m in lock.models if m.format == "onnx"]
    if requested is None:
        return "onnxruntime" if onnx else "paddle"
    if requested == "paddle" and onnx:
        raise ValueError(f"OCR_BACKEND=paddle cannot run ONNX-format models ({', '.join(onnx)}): "
                         "unset it, or use a lock of Paddle-format models")
    return requested


@dataclass
class ModelState:
    name: str
    state: str  # ready | missing | corrupt
    size: int = 0
    detail: str = ""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class ModelCache:
    """The models of ``lock`` under ``home``: their states, ``warm`` (fill, verify, publish,
    convert) and the folders an engine loads.

    Size: see the module docstring."""

    def __init__(self, home: Path, lock: ModelLock, source: str = "official", backend: Optional[str] = None) -> None:
        self.home = Path(home)
        self.models_dir = self.home / "official_models"
        self.onnx_dir = self.home / "onnx_models"
        self.lock = lock
        self.source = source
        self.backend = resolve_backend(lock, backend)

    def model_dir(self, spec: ModelSpec) -> Path:
        return self.models_dir / spec.package

    def converted_dir(self, spec: ModelSpec) -> Path:
        return self.onnx_dir / spec.name

    def converts(self, spec: ModelSpec) -> bool:
        """Does ``spec`` run as a conversion (a Paddle-format model on ONNX Runtime)?"""
        return self.backend == "onnxruntime" and spec.format == "paddle"

    def engine_dir(self, spec: ModelSpec) -> Path:
        """The folder the engine loads for ``spec`` on this cache's backend."""
        return self.converted_dir(spec) if self.converts(spec) else self.model_dir(spec)

    def _manifest(self, spec: ModelSpec) -> dict:
        """The manifest of ``spec``'s published model (check it first)."""
        return json.loads((self.model_dir(spec) / MANIFEST).read_text())

    # -- checking ------------------------------------------------------------------------------

    def check(self, spec: ModelSpec, deep: bool = True) -> ModelState:
        """Is ``spec`` published and intact? ``deep`` re-hashes every file; otherwise sizes only."""
        return self._check(spec.name, self.model_dir(spec), spec.sha256, deep, REQUIRED_FILES[spec.format])

    def check_converted(self, spec: ModelSpec, deep: bool = True) -> ModelState:
        """Is the ONNX conversion of ``spec`` published, intact, and made from the published model?"""
        source = self.check(spec, deep=False)
        if source.state != "ready":
            return ModelState(f"{spec.name} (onnx)", "missing", detail=f"its source is {source.state}")
        return self._check(f"{spec.name} (onnx)", self.converted_dir(spec), self._manifest(spec)["archive_sha256"],
                           deep, REQUIRED_FILES["onnx"])

    def _check(self, name: str, folder: Path, archive_sha256: Optional[str], deep: bool,
               required: tuple[str, ...]) -> ModelState:
        if not folder.exists():
            return ModelState(name, "missing")
        try:
            manifest = json.loads((folder / MANIFEST).read_text())
        except (OSError, ValueError):
            return ModelState(name, "corrupt", detail="no readable manifest")
        if archive_sha256 and manifest.get("archive_sha256") != archive_sha256:
            return ModelState(name, "corrupt", detail="published from a different archive than the lock pins")
        if missing := [f for f in required if f not in manifest.get("files", {})]:
            return ModelState(name, "corrupt", detail=f"holds no {', '.join(missing)}")
        total = 0
        for rel, meta in manifest.get("files", {}).items():
            path = folder / rel
            try:
                size = path.stat().st_size
            except OSError:
                return ModelState(name, "corrupt", detail=f"{rel} is missing")
            if size != meta["size"]:
                return ModelState(name, "corrupt", detail=f"{rel} has {size} bytes, manifest says {meta['size']}")
            if deep and _sha256(path) != meta["sha256"]:
                return ModelState(name, "corrupt", detail=f"{rel} does not match its sha256")
            total += size
        if not manifest.get("files"):
            return ModelState(name, "corrupt", detail="manifest lists no files")
        return ModelState(name, "ready", size=total)

    def states(self, deep: bool = True) -> list[ModelState]:
        """Every model the backend needs: the published models, and the conversions it runs."""
        return [self.check(spec, deep) for spec in self.lock.models] + \
               [self.check_converted(spec, deep) for spec in self.lock.models if self.converts(spec)]

    # -- warming -------------------------------------------------------------------------------

    def warm(self, lock_timeout: float = 900.0) -> None:
        """Make every model in the lock ready, exactly once however many warmers run at once."""
        if all(s.state == "ready" for s in self.states()):
            log.info("Using cached models from %s", self.models_dir)
            return
        if not self._writable():
            missing = [s.name for s in self.states(deep=False) if s.state != "ready"]
            raise CacheError(EXIT_READ_ONLY_MISSING,
                             f"cache {self.home} is read-only and these models are not ready: {', '.join(missing)}")
        self.models_dir.mkdir(parents=True, exist_ok=True)
        # The models first, then the conversions, which need them published.
        steps = [(self.check, self.model_dir, self._install, self.lock.models),
                 (self.check_converted, self.converted_dir, self._convert,
                  [spec for spec in self.lock.models if self.converts(spec)])]
        with self._exclusive(lock_timeout):
            self._clean_staging()
            for check, folder_of, make, specs in steps:
                for spec in specs:
                    state = check(spec)
                    if state.state == "ready":
                        continue
                    if state.state == "corrupt":  # only a folder that exists is corrupt
                        self._quarantine(state, folder_of(spec))
                    make(spec)
        log.info("Using cached models from %s", self.models_dir)

    def _writable(self) -> bool:
        probe = self.home if self.home.exists() else self.home.parent
        return os.access(probe, os.W_OK)

    @contextlib.contextmanager
    def _exclusive(self, timeout: float):
        path = self.home / ".warm.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            start = last_log = time.monotonic()
            while True:
                try:
                    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError:
                    now = time.monotonic()
                    if now - start >= timeout:
                        raise CacheError(EXIT_LOCK_TIMEOUT,
                                         f"another warmer held {path} for more than {timeout:.0f} s") from None
                    if now - last_log >= 10:
                        log.info("waiting for another warmer to finish (%.0f s)", now - start)
                        last_log = now
                    time.sleep(0.2)
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the lock

    def _clean_staging(self) -> None:
        # We hold the lock, so anything staged was left by a warmer that died.
        staging = self.home / ".staging"
        if staging.exists():
            for leftover in staging.iterdir():
                log.warning("removing staging left by an interrupted warmer: %s", leftover.name)
                shutil.rmtree(leftover) if leftover.is_dir() else leftover.unlink()

    def _quarantine(self, state: ModelState, folder: Path) -> None:
        target = self.home / ".quarantine" / f"{folder.parent.name}.{folder.name}.{int(time.time() * 1000)}"
        target.parent.mkdir(exist_ok=True)
        log.warning("quarantining %s (%s) to %s", state.name, state.detail, target)
        os.rename(folder, target)

    def _install(self, spec: ModelSpec) -> None:
        staging = self.home / ".staging"
        staging.mkdir(exist_ok=True)
        archive = staging / spec.archive
        log.info("downloading %s from %s", spec.archive, self.source)
        progress = _Progress(spec.archive)
        try:
            fetch(self.source, spec.archive, archive, progress)
        except SourceUnreachable as e:
            raise CacheError(EXIT_SOURCE_UNREACHABLE, f"model source unreachable: {e}") from None
        progress.done()
        size, digest = archive.stat().st_size, _sha256(archive)
        if (spec.size is not None and size != spec.size) or (spec.sha256 and digest != spec.sha256):
            archive.unlink()
            raise CacheError(EXIT_CHECKSUM, f"{spec.archive}: checksum mismatch (got sha256 {digest}, {size} bytes; "
                                            f"lock pins {spec.sha256}, {spec.size} bytes)")
        if not spec.sha256:
            log.warning("%s: no checksum pinned; recording sha256 %s in the manifest (run `lock` to pin it)",
                        spec.archive, digest)

        folder = staging / spec.package
        files = self._extract(archive, folder, spec)
        archive.unlink()
        _publish(folder, {"name": spec.name, "archive_sha256": digest, "archive_size": size, "files": files},
                 self.model_dir(spec))

    def _convert(self, spec: ModelSpec) -> None:
        """paddle2onnx, in a process of its own, from the published model into staging; then
        published like a download (verified manifest, fsync, atomic rename)."""
        if importlib.util.find_spec("paddle2onnx") is None:
            raise CacheError(EXIT_CONVERSION, f"{spec.name}: a Paddle-format model needs paddle2onnx to run on "
                                              "onnxruntime, and this image has none: build it with "
                                              "ENGINE=paddle, or use a lock of ONNX-format models")
        source = self.model_dir(spec)
        folder = self.home / ".staging" / f"{spec.name}.onnx"
        folder.mkdir(parents=True)
        log.info("converting %s to ONNX", spec.name)
        start = time.monotonic()
        try:
            result = subprocess.run(
                [sys.executable, "-m", "paddle2onnx.command", "--model_dir", str(source),
                 "--model_filename", "inference.json", "--params_filename", "inference.pdiparams",
                 "--save_file", str(folder / "inference.onnx")],
                capture_output=True, text=True, timeout=CONVERSION_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise CacheError(EXIT_CONVERSION,
                             f"{spec.name}: paddle2onnx took more than {CONVERSION_TIMEOUT} s") from None
        if result.returncode != 0 or not (folder / "inference.onnx").is_file():
            last = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
            raise CacheError(EXIT_CONVERSION, f"{spec.name}: paddle2onnx exited {result.returncode}: {last[0]}")
        shutil.copyfile(source / "inference.yml", folder / "inference.yml")  # pre/post-processing settings
        files = {name: {"size": (folder / name).stat().st_size, "sha256": _sha256(folder / name)}
                 for name in ("inference.onnx", "inference.yml")}
        self.onnx_dir.mkdir(exist_ok=True)
        _publish(folder, {"name": spec.name, "archive_sha256": self._manifest(spec)["archive_sha256"],
                          "converter": "paddle2onnx", "files": files}, self.converted_dir(spec))
        log.info("converted %s in %.1f s", spec.name, time.monotonic() - start)

    def _extract(self, archive: Path, folder: Path, spec: ModelSpec) -> dict:
        folder.mkdir()
        files = {}
        try:
            with tarfile.open(archive) as tar:
                for member in tar.getmembers():
                    name = Path(member.name).name
                    if not member.isfile() or name.startswith("."):
                        continue  # flatten <name>_infer/; never follow links or absolute paths
                    src = tar.extractfile(member)
                    assert src is not None  # a regular file always has content
                    with src, open(folder / name, "wb") as dst:
                        shutil.copyfileobj(src, dst)
                    files[name] = {"size": member.size, "sha256": _sha256(folder / name)}
        except (tarfile.TarError, OSError) as e:
            raise CacheError(EXIT_BAD_ARCHIVE, f"{spec.archive}: not a readable model archive ({e})") from None
        missing = [f for f in REQUIRED_FILES[spec.format] if f not in files]
        if missing:
            raise CacheError(EXIT_BAD_ARCHIVE, f"{spec.archive}: archive lacks {', '.join(missing)}")
        return files

    # -- pinning ---------------------------------------------------------------------------------

    def pinned_lock(self) -> ModelLock:
        """The lock with every archive checksum taken from this (warm, verified) cache."""
        pinned = []
        for spec in self.lock.models:
            state = self.check(spec)
            if state.state != "ready":
                raise CacheError(EXIT_CHECKSUM, f"{spec.name} is {state.state}; warm the cache before `lock`")
            manifest = self._manifest(spec)
            pinned.append(ModelSpec(spec.name, spec.role, manifest["archive_sha256"], manifest["archive_size"],
                                    spec.format))
        return ModelLock(tuple(pinned))


def _publish(folder: Path, manifest: dict, target: Path) -> None:
    """Write the manifest, fsync every file and the folder, and rename it into place: readers
    see all of it or nothing."""
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1))
    for path in folder.iterdir():
        with open(path, "rb") as f:
            os.fsync(f.fileno())
    _fsync_dir(folder)
    os.rename(folder, target)
    _fsync_dir(target.parent)
    log.info("published %s/%s (%d bytes)", target.parent.name, target.name,
             sum(m["size"] for m in manifest["files"].values()))


class _Progress:
    """A progress bar on a TTY; a log line every few seconds in a container."""

    def __init__(self, label: str, every: float = 5.0) -> None:
        self.label, self.every = label, every
        self.start = self.last = time.monotonic()
        self.tty = sys.stderr.isatty()
        self.seen = 0

    def __call__(self, done: int, total: Optional[int]) -> None:
        self.seen = done
        now = time.monotonic()
        rate = done / max(now - self.start, 1e-6) / 1e6
        pct = f"{100 * done / total:5.1f}%" if total else "  ?  %"
        if self.tty:
            bar = "#" * int(30 * done / total) if total else ""
            sys.stderr.write(f"\r{self.label} [{bar:<30}] {pct} {done / 1e6:7.1f} MB {rate:6.1f} MB/s")
        elif now - self.last >= self.every:
            log.info("%s: %s, %.1f MB, %.1f MB/s", self.label, pct.strip(), done / 1e6, rate)
            self.last = now

    def done(self) -> None:
        if self.tty:
            sys.stderr.write("\n")
        log.info("%s: downloaded %.1f MB in %.1f s", self.label, self.seen / 1e6, time.monotonic() - self.start)
