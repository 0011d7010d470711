"""The pinned model sets (``locks/<tier>.json``) and where their archives come from."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Optional

#: PaddleX's own host for official inference models (``<name>_infer.tar``).
OFFICIAL_BASE = "https://paddle-model-ecology.bj.bcebos.com/paddlex/official_inference_model/paddle3.0.0"

#: Pipeline roles, in the order PaddleOCR runs them.
ROLES = ("doc_orientation", "doc_unwarping", "text_detection", "textline_orientation", "text_recognition")
#: A model's format: Paddle Inference's (``inference.json`` + ``.pdiparams``) or ONNX
#: (``inference.onnx``); both come with PaddleX's ``inference.yml`` (pre- and post-processing).
FORMATS = ("paddle", "onnx")
#: The files an archive of each format must hold.
REQUIRED_FILES = {"paddle": ("inference.pdiparams", "inference.yml"), "onnx": ("inference.onnx", "inference.yml")}
#: The model sets this package pins, fastest first (README: Model tiers); ``OCR_MODEL_TIER``.
TIERS = ("tiny", "small", "medium", "v5")
DEFAULT_TIER = "tiny"
LOCKS = Path(__file__).resolve().parent / "locks"


class SourceUnreachable(Exception):
    """The model source could not be read (network, missing object, permissions)."""


@dataclass(frozen=True)
class ModelSpec:
    name: str
    role: str
    #: The archive's sha256 and size in bytes; None until pinned (recorded at first verified download).
    sha256: Optional[str] = None
    size: Optional[int] = None
    format: str = "paddle"

    @property
    def package(self) -> str:
        """PaddleX's name for the model's package, ``<name>_onnx`` for ONNX
        (``_format_download_model_name`` in paddlex/inference/utils/official_models.py); also its
        folder in the cache, so both formats of one model can be published side by side."""
        return f"{self.name}_onnx" if self.format == "onnx" else self.name

    @property
    def archive(self) -> str:
        return f"{self.package}_infer.tar"


@dataclass(frozen=True)
class ModelLock:
    models: tuple[ModelSpec, ...]

    @classmethod
    def load(cls, path: Path) -> "ModelLock":
        try:
            data = json.loads(Path(path).read_text())
            models = tuple(ModelSpec(**m) for m in data["models"])
        except FileNotFoundError:
            raise ValueError(f"model lock {path}: file not found") from None
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise ValueError(f"model lock {path}: invalid ({e})") from None
        for m in models:
            if m.role not in ROLES:
                raise ValueError(f"model lock {path}: {m.name}: unknown role {m.role!r}")
            if m.format not in FORMATS:
                raise ValueError(f"model lock {path}: {m.name}: format {m.format!r} must be one of "
                                 f"{', '.join(FORMATS)}")
        roles = [m.role for m in models]
        if len(set(roles)) != len(roles):
            raise ValueError(f"model lock {path}: more than one model for a role")
        return cls(models)

    def save(self, path: Path) -> None:
        models = ",\n".join(f"    {json.dumps(asdict(m))}" for m in self.models)  # a model a line
        Path(path).write_text(f'{{\n  "version": 1,\n  "models": [\n{models}\n  ]\n}}\n')

    def by_role(self) -> dict[str, ModelSpec]:
        return {m.role: m for m in self.models}


Progress = Callable[[int, Optional[int]], None]  # (bytes so far, total or None)


def fetch(source: str, archive: str, dest: Path, progress: Progress) -> None:
    """Copy ``archive`` from ``source`` (official, s3://, http(s)://, file://) to ``dest``."""
    try:
        if source.startswith("s3://"):
            _fetch_s3(source, archive, dest, progress)
            return
        base = OFFICIAL_BASE if source == "official" else source.rstrip("/")
        if base.startswith("file://"):
            src = Path(base[len("file://"):]) / archive
            with open(src, "rb") as fin, open(dest, "wb") as fout:
                _copy(fin, fout, src.stat().st_size, progress)
            return
        with urllib.request.urlopen(f"{base}/{archive}", timeout=60) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            with open(dest, "wb") as fout:
                _copy(response, fout, total, progress)
    except SourceUnreachable:
        raise
    except (OSError, urllib.error.URLError) as e:
        raise SourceUnreachable(f"{source}/{archive}: {getattr(e, 'reason', None) or e}") from None


def _copy(fin, fout, total: Optional[int], progress: Progress) -> None:
    done = 0
    while chunk := fin.read(1 << 20):
        fout.write(chunk)
        done += len(chunk)
        progress(done, total)
    if total is not None and done != total:
        raise SourceUnreachable(f"connection closed after {done} of {total} bytes")


def _fetch_s3(source: str, archive: str, dest: Path, progress: Progress) -> None:
    import boto3
    import botocore.exceptions

    bucket, _, prefix = source[len("s3://"):].partition("/")
    key = f"{prefix.rstrip('/')}/{archive}" if prefix else archive
    s3 = boto3.client("s3")
    try:
        total = s3.head_object(Bucket=bucket, Key=key)["ContentLength"]
        done = [0]

        def callback(n: int) -> None:
            done[0] += n
            progress(done[0], total)

        s3.download_file(bucket, key, str(dest), Callback=callback)
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
        raise SourceUnreachable(f"s3://{bucket}/{key}: {e}") from None


def tier_lock_path(tier: str) -> Path:
    return LOCKS / f"{tier}.json"


def default_lock_path(model_lock: Optional[str], model_tier: Optional[str]) -> Path:
    """``OCR_MODEL_LOCK`` if set, else the lock of ``OCR_MODEL_TIER``."""
    return Path(model_lock or tier_lock_path(model_tier or DEFAULT_TIER))
