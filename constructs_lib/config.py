"""The app's settings: the ``paddleocr_efs`` object in ``cdktf.json``, mapped onto typed props.

Settings come from the ``paddleocr_efs`` object in ``cdktf.json`` ``context``. Another environment
overrides any subset of it with a JSON file named by ``PADDLEOCR_EFS_CONFIG``, merged key by key.
Each section is the props dataclass of the construct it configures, which validates itself; this
module only maps JSON onto those types and names the key in every error, in one line, before any
construct is built.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Literal, Optional

from constructs_lib import validation
from constructs_lib.backend import BackendProps
from constructs_lib.documents import DocumentPipelineProps
from constructs_lib.iam import TaskRolesProps
from constructs_lib.image_repository import ImageRepositoryProps
from constructs_lib.model_cache import ModelCacheProps
from constructs_lib.model_source import MIN_TASK_MEMORY, ModelSourceProps
from constructs_lib.monitoring import MonitoringProps
from constructs_lib.naming import Names
from constructs_lib.network import NetworkProps
from constructs_lib.scaling import QueueScalingProps
from constructs_lib.service import OcrServiceProps
from constructs_lib.task_definition import TaskProps
from constructs_lib.validation import ConfigError, Props
from constructs_lib.worker import OWNED, WorkerProps

__all__ = ["CONTEXT_KEY", "OVERRIDE_ENV", "ConfigError", "Settings", "load_settings", "settings_from_dict"]

CONTEXT_KEY = "paddleocr_efs"
OVERRIDE_ENV = "PADDLEOCR_EFS_CONFIG"

#: Tags this project adds to every resource: Project, ManagedBy and Name.
_OWN_TAGS = 3

#: Keys that moved to another section, for a helpful error.
_MOVED = {"service.min_tasks": "scaling.min_tasks", "service.max_tasks": "scaling.max_tasks",
          "service.backlog_per_task": "scaling.backlog_per_task", "service.alarm_email": "monitoring.alarm_email",
          "service.environment": "the worker section (worker.cpu_threads sets OCR_CPU_THREADS, ...)"}
#: Worker settings that another section sets.
_SET_BY = {f"worker.{key}": owner for key, owner in OWNED.items()}


@dataclass(frozen=True)
class ServiceSettings(OcrServiceProps, TaskProps):
    """The ``service`` section: the service's props and its task definition's in one place, as
    one section of the config. The stack hands each construct its own part."""

    def validate(self) -> None:
        OcrServiceProps.validate(self)
        TaskProps.validate(self)

    def task_props(self) -> TaskProps:
        return TaskProps(**{f.name: getattr(self, f.name) for f in fields(TaskProps)})

    def service_props(self) -> OcrServiceProps:
        return OcrServiceProps(**{f.name: getattr(self, f.name) for f in fields(OcrServiceProps)})


@dataclass(frozen=True)
class Settings(Props):
    """The whole app: one environment, named by ``project``.

    Attributes:
        project: Prefix of every name (see :class:`~constructs_lib.naming.Names`), of the state
            keys and of the Terraform Cloud workspaces. ``sabuho`` gives the guide's names.
        region: The AWS region. Default ``us-east-1``.
        tags: Tags on every resource (provider default_tags), beside Project and ManagedBy.
        aws_endpoint: Point the provider and the S3 backend at another AWS API (moto, LocalStack).
        backend, network, model_cache, iam, service, scaling, image, documents, monitoring, models:
            the props of the construct each section configures.
        worker: The worker's own settings (:class:`~constructs_lib.worker.WorkerProps`), checked by
            the worker's rules.
    """

    project: str = "sabuho"
    region: str = "us-east-1"
    tags: dict[str, str] = field(default_factory=dict)
    aws_endpoint: Optional[str] = None
    backend: BackendProps = field(default_factory=BackendProps)
    network: NetworkProps = field(default_factory=NetworkProps)
    model_cache: ModelCacheProps = field(default_factory=ModelCacheProps)
    iam: TaskRolesProps = field(default_factory=TaskRolesProps)
    service: ServiceSettings = field(default_factory=lambda: ServiceSettings())
    scaling: QueueScalingProps = field(default_factory=QueueScalingProps)
    image: ImageRepositoryProps = field(default_factory=ImageRepositoryProps)
    documents: DocumentPipelineProps = field(default_factory=DocumentPipelineProps)
    monitoring: MonitoringProps = field(default_factory=MonitoringProps)
    models: ModelSourceProps = field(default_factory=ModelSourceProps)
    worker: WorkerProps = field(default_factory=WorkerProps)

    def validate(self) -> None:
        validation.project("project", self.project)
        validation.region("region", self.region)
        validation.tags("tags", self.tags, reserved=_OWN_TAGS)
        if self.aws_endpoint is not None:
            validation.url("aws_endpoint", self.aws_endpoint, ("https?",))
        validation.zones("network.availability_zones", self.network.availability_zones, in_region=self.region)
        need = MIN_TASK_MEMORY[self.models.tier]
        validation.check(self.service.memory >= need, "service.memory",
                         f"{self.service.memory} MiB is too little for models.tier {self.models.tier!r}: "
                         f"it needs {need} or more")

    @property
    def names(self) -> Names:
        """The derived names; explicit names in the sections win over these."""
        return Names(self.project)


# --------------------------------------------------------------------------------------------
# Loading


def load_settings(cdktf_json: Path, env: Optional[typing.Mapping[str, str]] = None) -> Settings:
    """Read ``cdktf.json`` context, apply the override file, validate, return Settings."""
    env = os.environ if env is None else env
    raw = _read_json(Path(cdktf_json))
    if isinstance(raw, dict):
        _refuse_misplaced(raw, str(cdktf_json))
    raw = raw.get("context", {}).get(CONTEXT_KEY, {}) if isinstance(raw, dict) else None
    if not isinstance(raw, dict):
        raise ConfigError(f"context.{CONTEXT_KEY}", "must be an object", owner=str(cdktf_json))
    override = env.get(OVERRIDE_ENV)
    if override:
        extra = _read_json(Path(override))
        if not isinstance(extra, dict):
            raise ConfigError(OVERRIDE_ENV, f"{override}: the override must be a JSON object")
        raw = _merge(raw, extra)
    return settings_from_dict(raw)


def _refuse_misplaced(cdktf: dict, owner: str) -> None:
    """Settings outside ``context.paddleocr_efs`` would be ignored, and synth would go on with the
    defaults (project, region, local state): refuse a key that looks like ``paddleocr_efs``, and a
    settings section one level too high (in ``context``, or at the top of the file)."""
    sections = {f.name for f in fields(Settings)}
    context = cdktf.get("context", {})
    for where, keys in (("context.", context if isinstance(context, dict) else {}), ("", cdktf)):
        for key in keys:
            if key == CONTEXT_KEY:
                continue
            if key in sections:
                raise ConfigError(f"{where}{key}", f"belongs inside context.{CONTEXT_KEY} "
                                  f"(context.{CONTEXT_KEY}.{key}); here it would be ignored", owner=owner)
            looks_like = _normalized(key) == _normalized(CONTEXT_KEY) or \
                difflib.get_close_matches(key, [CONTEXT_KEY], cutoff=0.8)
            if looks_like:
                raise ConfigError(f"{where}{key}", f"unknown key; did you mean context.{CONTEXT_KEY}?", owner=owner)


def _normalized(key: str) -> str:
    return key.lower().replace("-", "").replace("_", "")


def settings_from_dict(raw: dict) -> Settings:
    """Map a JSON object onto :class:`Settings`; errors name the key (``model_cache.uid: ...``)."""
    return _build(Settings, raw, "")


def _read_json(path: Path):
    try:
        return json.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise ConfigError(str(path), "file not found") from None
    except IsADirectoryError:
        raise ConfigError(str(path), "is a directory, not a JSON file") from None
    except PermissionError:
        raise ConfigError(str(path), "permission denied") from None
    except UnicodeDecodeError as e:
        raise ConfigError(str(path), f"is not UTF-8 text (byte {e.start})") from None
    except json.JSONDecodeError as e:
        raise ConfigError(str(path), f"invalid JSON at line {e.lineno} column {e.colno}: {e.msg}") from None


def _merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _build(cls, raw, path: str):
    if not isinstance(raw, dict):
        raise ConfigError(path.rstrip(".") or "config", f"must be an object, got {_show(raw)}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    for key in raw:
        if key not in names:
            moved, owner = _MOVED.get(f"{path}{key}"), _SET_BY.get(f"{path}{key}")
            close = difflib.get_close_matches(key, names, n=1, cutoff=0.6)
            raise ConfigError(f"{path}{key}", f"moved to {moved}" if moved else
                              f"is set by {owner}, not here" if owner else
                              f"unknown key; did you mean {path}{close[0]}?" if close else
                              f"unknown key (known: {', '.join(sorted(names))})")
    values = {key: _coerce(value, hints[key], f"{path}{key}") for key, value in raw.items()}
    try:
        return cls(**values)
    except ConfigError as e:  # the props' own rule: name the key as the user wrote it
        raise ConfigError(f"{path}{e.field}", e.problem) from None


def _coerce(value, tp, key: str):
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, f"{key}.")
    if origin is typing.Union:  # Optional[X]
        if value is None:
            return None
        return _coerce(value, next(a for a in args if a is not type(None)), key)
    if origin is Literal:
        if value not in args or isinstance(value, bool):
            choices = ", ".join(repr(a) for a in args)
            raise ConfigError(key, f"must be one of {choices}, got {_show(value)}")
        return value
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(key, f"must be a list, got {_show(value)}")
        return [_coerce(v, args[0], f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(key, f"must be an object, got {_show(value)}")
        return {k: _coerce(v, args[1], f"{key}.{k}") for k, v in value.items()}
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(key, f"must be true or false, got {_show(value)}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(key, f"must be an integer, got {_show(value)}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(key, f"must be a string, got {_show(value)}")
        return value
    raise TypeError(f"unsupported settings type {tp!r} for {key}")  # a bug here, not user input


def _show(value) -> str:
    return json.dumps(value) if not isinstance(value, str) else repr(value)
