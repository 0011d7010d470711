"""A PaddleX model cache that many tasks can fill at once, on EFS or any POSIX file system.

Layout under the cache home (``PADDLE_PDX_CACHE_HOME``)::

    official_models/<name>/            published models; PaddleX reads these
    official_models/<name>/.manifest.json   what was published: archive sha256, every file's sha256
    .staging/<name>/                   a download in progress (same file system: rename is atomic)
    .quarantine/<name>.<time>/         a published model that failed verification
    .warm.lock                         fcntl lock: one warmer at a time (EFS supports it)

PaddleX itself trusts any folder that exists, and its downloads are a copy on EFS, not a rename,
so a crash leaves half-written folders that every later task trusts. Here a model is published
only by an atomic rename of a fully verified, fsynced folder, and trusted only if its manifest
matches the files.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
import sys
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ocr_worker.models import ModelLock, ModelSpec, SourceUnreachable, fetch

log = logging.getLogger("ocr_worker.cache")

MANIFEST = ".manifest.json"
MODEL_FILES = ("inference.json", "inference.pdiparams", "inference.yml")

# Exit codes of `warm`; each comes with a one-line reason.
EXIT_READY = 0
EXIT_LOCK_TIMEOUT = 10
EXIT_CHECKSUM = 11
EXIT_SOURCE_UNREACHABLE = 12
EXIT_READ_ONLY_MISSING = 13
EXIT_BAD_ARCHIVE = 14
#: worker/serve: a model is not ready (run warm first).
EXIT_NOT_READY = 15


class CacheError(Exception):
    """A cache failure with its exit code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


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
    def __init__(self, home: Path, lock: ModelLock, source: str = "official") -> None:
        self.home = Path(home)
        self.models_dir = self.home / "official_models"
        self.lock = lock
        self.source = source

    def model_dir(self, spec: ModelSpec) -> Path:
        return self.models_dir / spec.name

    # -- checking ------------------------------------------------------------------------------

    def check(self, spec: ModelSpec, deep: bool = True) -> ModelState:
        """Is ``spec`` published and intact? ``deep`` re-hashes every file; otherwise sizes only."""
        folder = self.model_dir(spec)
        if not folder.exists():
            return ModelState(spec.name, "missing")
        try:
            manifest = json.loads((folder / MANIFEST).read_text())
        except (OSError, ValueError):
            return ModelState(spec.name, "corrupt", detail="no readable manifest")
        if spec.sha256 and manifest.get("archive_sha256") != spec.sha256:
            return ModelState(spec.name, "corrupt", detail="published from a different archive than the lock pins")
        total = 0
        for rel, meta in manifest.get("files", {}).items():
            path = folder / rel
            try:
                size = path.stat().st_size
            except OSError:
                return ModelState(spec.name, "corrupt", detail=f"{rel} is missing")
            if size != meta["size"]:
                return ModelState(spec.name, "corrupt", detail=f"{rel} has {size} bytes, manifest says {meta['size']}")
            if deep and _sha256(path) != meta["sha256"]:
                return ModelState(spec.name, "corrupt", detail=f"{rel} does not match its sha256")
            total += size
        if not manifest.get("files"):
            return ModelState(spec.name, "corrupt", detail="manifest lists no files")
        return ModelState(spec.name, "ready", size=total)

    def states(self, deep: bool = True) -> list[ModelState]:
        return [self.check(spec, deep) for spec in self.lock.models]

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
        with self._exclusive(lock_timeout):
            self._clean_staging()
            for spec in self.lock.models:
                state = self.check(spec)
                if state.state == "ready":
                    continue
                if state.state == "corrupt":
                    self._quarantine(spec, state.detail)
                self._install(spec)
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

    def _quarantine(self, spec: ModelSpec, reason: str) -> None:
        target = self.home / ".quarantine" / f"{spec.name}.{int(time.time() * 1000)}"
        target.parent.mkdir(exist_ok=True)
        log.warning("quarantining %s (%s) to %s", spec.name, reason, target)
        os.rename(self.model_dir(spec), target)

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

        folder = staging / spec.name
        files = self._extract(archive, folder, spec)
        archive.unlink()
        (folder / MANIFEST).write_text(json.dumps(
            {"name": spec.name, "archive_sha256": digest, "archive_size": size, "files": files}, indent=1))
        for path in folder.iterdir():
            with open(path, "rb") as f:
                os.fsync(f.fileno())
        _fsync_dir(folder)
        os.rename(folder, self.model_dir(spec))  # atomic: readers see all or nothing
        _fsync_dir(self.models_dir)
        log.info("published %s (%d bytes)", spec.name, sum(m["size"] for m in files.values()))

    def _extract(self, archive: Path, folder: Path, spec: ModelSpec) -> dict:
        folder.mkdir()
        files = {}
        try:
            with tarfile.open(archive) as tar:
                for member in tar.getmembers():
                    name = Path(member.name).name
                    if not member.isfile() or name.startswith("."):
                        continue  # flatten <name>_infer/; never follow links or absolute paths
                    with tar.extractfile(member) as src, open(folder / name, "wb") as dst:
                        shutil.copyfileobj(src, dst)
                    files[name] = {"size": member.size, "sha256": _sha256(folder / name)}
        except (tarfile.TarError, OSError) as e:
            raise CacheError(EXIT_BAD_ARCHIVE, f"{spec.archive}: not a readable model archive ({e})") from None
        missing = [f for f in ("inference.pdiparams", "inference.yml") if f not in files]
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
            manifest = json.loads((self.model_dir(spec) / MANIFEST).read_text())
            pinned.append(ModelSpec(spec.name, spec.role, manifest["archive_sha256"], manifest["archive_size"]))
        return ModelLock(tuple(pinned))


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
