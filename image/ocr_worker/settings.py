"""Every environment setting of ``ocr-worker``: its default, its bounds and the commands that read it.

:func:`load` reads and checks all of a command's settings at once, before anything starts, into
that command's frozen dataclass (:data:`COMMANDS`): a bad value is one line (``config error:
OCR_PORT: 'abc' is not an integer``) and exit 2, never a traceback halfway through a start.
The table below is the only place a default is written; a command reads a setting when its
dataclass has the setting's field. ``ocr-worker --help`` lists the table (:func:`help_text`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from typing import Callable, Mapping, Optional

from ocr_worker.cache import BACKENDS
from ocr_worker.documents import DOWNSCALE_PIXELS, MAX_PAGE_PIXELS, MAX_PAGES, MAX_QUEUED_BYTES, PAGES_PER_PART, PDF_DPI
from ocr_worker.exits import ConfigError
from ocr_worker.heartbeat import DEFAULT_FILE, DEFAULT_MAX_AGE
from ocr_worker.inference import DEFAULT_MAX_WAITING
from ocr_worker.models import DEFAULT_TIER, TIERS

# SQS limits: VisibilityTimeout and ChangeMessageVisibility take 0-43,200 s (12 hours);
# WaitTimeSeconds takes 0-20 s (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/
# API_ReceiveMessage.html, API_ChangeMessageVisibility.html).
SQS_MAX_VISIBILITY = 43_200
# Fargate's stopTimeout is at most 120 s, at least 2 s (https://docs.aws.amazon.com/AmazonECS/latest/
# developerguide/task_definition_parameters.html#container_definition_timeout).
FARGATE_MAX_STOP_TIMEOUT = 120


def _model_source(value: str) -> Optional[str]:
    if value == "official" or value.startswith(("s3://", "https://", "http://", "file:///")):
        return None
    return "must be official, s3://bucket/prefix, https://host/path or file:///dir"


@dataclass(frozen=True)
class Setting:
    name: str
    #: The attribute of the command dataclasses that holds it.
    field: str
    #: None: the command cannot run without it; "": optional, unset by default.
    default: Optional[str]
    help: str
    integer: bool = False
    minimum: Optional[int] = None
    maximum: Optional[int] = None
    check: Optional[Callable[[str], Optional[str]]] = None
    #: The values it may take (compared in upper case when ``fold_case``).
    choices: tuple[str, ...] = ()
    fold_case: bool = False

    def read(self, environ: Mapping[str, str]):
        raw = environ.get(self.name, "")
        if raw == "":
            if self.default is None:
                raise ConfigError(f"{self.name} is not set")
            raw = self.default
            if raw == "":
                return None
        if self.check and (problem := self.check(raw)):
            raise ConfigError(f"{self.name}: {raw!r} {problem}")
        if self.choices and (raw.upper() if self.fold_case else raw) not in self.choices:
            raise ConfigError(f"{self.name}: {raw!r} must be one of {' | '.join(self.choices)}")
        if not self.integer:
            return raw
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError(f"{self.name}: {raw!r} is not an integer") from None
        if self.minimum is not None and value < self.minimum:
            raise ConfigError(f"{self.name}: {value} must be at least {self.minimum}")
        if self.maximum is not None and value > self.maximum:
            raise ConfigError(f"{self.name}: {value} must be at most {self.maximum}")
        return value


SETTINGS = (
    Setting("PADDLE_PDX_CACHE_HOME", "cache_home", "/var/cache/paddlex", "the model cache, the EFS mount"),
    Setting("OCR_MODEL_TIER", "model_tier", DEFAULT_TIER, f"the model set: {' | '.join(TIERS)} (README: Model tiers)",
            choices=TIERS),
    Setting("OCR_MODEL_LOCK", "model_lock", "", "a model lock file of your own, instead of a tier's"),
    Setting("OCR_MODEL_SOURCE", "model_source", "official",
            "official | s3://bucket/prefix | https://host/path | file:///dir", check=_model_source),
    Setting("OCR_BACKEND", "backend", "", "inference engine: onnxruntime | paddle (Paddle-format models only); "
            "unset: onnxruntime if the lock has an ONNX model, else paddle", choices=BACKENDS),
    Setting("LOG_LEVEL", "log_level", "INFO", "DEBUG | INFO | WARNING | ERROR",
            choices=("DEBUG", "INFO", "WARNING", "ERROR"), fold_case=True),
    Setting("OCR_LOCK_TIMEOUT", "lock_timeout", "900", "seconds warm waits for another warmer", True, 1),
    Setting("OCR_MAX_DOCUMENT_SECONDS", "max_document_seconds", "600",
            "a document still unread after this gets an error", True, 1),
    Setting("OCR_MAX_PAGES", "max_pages", str(MAX_PAGES), "pages of a PDF or frames of a TIFF in one document",
            True, 1),
    Setting("OCR_MAX_BYTES", "max_bytes", str(MAX_QUEUED_BYTES), "bytes of one queued document", True, 1),
    Setting("OCR_PAGES_PER_PART", "pages_per_part", str(PAGES_PER_PART),
            "a longer document is read in parts of this many pages, by any task", True, 1, MAX_PAGES),
    Setting("OCR_DOWNSCALE_PIXELS", "downscale_pixels", str(DOWNSCALE_PIXELS),
            "larger pages are downscaled to this many pixels before OCR; it bounds memory", True, 1_000_000,
            MAX_PAGE_PIXELS),
    Setting("OCR_PDF_DPI", "pdf_dpi", str(PDF_DPI), "resolution PDF pages are rendered at", True, 72, 600),
    Setting("OCR_CPU_THREADS", "cpu_threads", "0", "inference threads; 0: one per CPU the task has", True, 0, 64),
    Setting("OCR_HEARTBEAT_FILE", "heartbeat_file", DEFAULT_FILE, "touched while the worker or server loop runs"),
    Setting("OCR_HEARTBEAT_MAX_AGE", "heartbeat_max_age", str(DEFAULT_MAX_AGE), "seconds after which `health` fails",
            True, 1),
    Setting("OCR_QUEUE_URL", "queue_url", None, "the SQS queue of documents (required)"),
    Setting("OCR_OUTPUT_BUCKET", "output_bucket", None, "the bucket results are written to (required)"),
    Setting("OCR_OUTPUT_PREFIX", "output_prefix", "results/", "key prefix of the results"),
    Setting("OCR_VISIBILITY_TIMEOUT", "visibility_timeout", "120",
            "lease on a received message, renewed while it is worked on", True, 1, SQS_MAX_VISIBILITY),
    Setting("OCR_RETRY_DELAY", "retry_delay", "30", "seconds before a failed document is tried again", True, 0,
            SQS_MAX_VISIBILITY),
    Setting("OCR_WAIT_SECONDS", "wait_seconds", "20", "SQS long-poll seconds", True, 0, 20),
    Setting("OCR_MAX_FAILURES", "max_failures", "3", "failed attempts before the worker dead-letters a message",
            True, 1),
    Setting("OCR_DLQ_URL", "dlq_url", "", "the dead-letter queue such messages move to"),
    Setting("OCR_STOP_SECONDS", "stop_seconds", "120", "seconds from SIGTERM to SIGKILL, the container's stopTimeout",
            True, 2, FARGATE_MAX_STOP_TIMEOUT),
    Setting("ECS_AGENT_URI", "ecs_agent_uri", "", "set by ECS: the worker protects its task from scale-in while busy"),
    Setting("OCR_HOST", "host", "0.0.0.0", "address to listen on"),
    Setting("OCR_PORT", "port", "8080", "port to listen on (0: any free port)", True, 0, 65535),
    Setting("OCR_MAX_WAITING", "max_waiting", str(DEFAULT_MAX_WAITING),
            "requests that may wait for the inference thread; more get 503", True, 1),
    Setting("OCR_READ_TIMEOUT", "read_timeout", "30", "seconds a client may stay silent while sending a request",
            True, 1),
    Setting("OCR_MAX_CONNECTIONS", "max_connections", "256", "open connections and requests at once; more get 503",
            True, 1),
)


BY_FIELD = {s.field: s for s in SETTINGS}


def rules() -> dict[str, dict]:
    """The rules of every setting without a ``check`` function, by field, as data: the
    deployment's ``worker`` section is validated at synth by these (constructs_lib/worker.py reads
    them from constructs_lib/worker_settings.json, which tests/test_worker.py keeps equal)."""
    return {s.field: {"env": s.name, "default": s.default, "integer": s.integer, "minimum": s.minimum,
                      "maximum": s.maximum, "choices": list(s.choices), "fold_case": s.fold_case}
            for s in SETTINGS if s.check is None}


@dataclass(frozen=True)
class Settings:
    log_level: str


@dataclass(frozen=True)
class CacheSettings(Settings):
    """``verify`` and ``lock``: the model cache and the lock it holds."""

    cache_home: str
    model_tier: str
    model_lock: Optional[str]
    model_source: str
    backend: Optional[str]


@dataclass(frozen=True)
class WarmSettings(CacheSettings):
    lock_timeout: int


@dataclass(frozen=True)
class HealthSettings(Settings):
    heartbeat_file: str
    heartbeat_max_age: int


@dataclass(frozen=True)
class OcrSettings(CacheSettings):
    """What the worker and the server share: the engine, the document limits, the heartbeat."""

    max_document_seconds: int
    max_pages: int
    downscale_pixels: int
    pdf_dpi: int
    cpu_threads: int
    heartbeat_file: str


@dataclass(frozen=True)
class WorkerSettings(OcrSettings):
    queue_url: str
    max_bytes: int
    pages_per_part: int
    output_bucket: str
    output_prefix: str
    #: The lease: seconds a received message stays hidden, renewed while it is being worked on.
    visibility_timeout: int
    retry_delay: int
    wait_seconds: int
    max_failures: int
    #: None: the queue's redrive policy dead-letters (the message is left to reappear).
    dlq_url: Optional[str]
    #: Seconds between SIGTERM and SIGKILL (the container's stopTimeout).
    stop_seconds: int
    #: None outside ECS: then there is no task to protect.
    ecs_agent_uri: Optional[str]


@dataclass(frozen=True)
class ServeSettings(OcrSettings):
    host: str
    port: int
    max_waiting: int
    read_timeout: int
    max_connections: int


COMMANDS: dict[str, type[Settings]] = {
    "warm": WarmSettings, "verify": CacheSettings, "lock": CacheSettings, "health": HealthSettings,
    "worker": WorkerSettings, "serve": ServeSettings}


def commands_of(setting: Setting) -> list[str]:
    return [command for command, cls in COMMANDS.items() if setting.field in {f.name for f in fields(cls)}]


def load(command: str, environ: Mapping[str, str] = os.environ) -> Settings:
    """Every setting ``command`` reads, checked, as that command's dataclass (ints for numbers,
    None for an optional setting left unset)."""
    cls = COMMANDS[command]
    values = {f.name: BY_FIELD[f.name].read(environ) for f in fields(cls)}
    if environ.get("OCR_MODEL_TIER") and environ.get("OCR_MODEL_LOCK"):
        raise ConfigError("OCR_MODEL_TIER and OCR_MODEL_LOCK are both set: a tier is a lock; set one")
    return cls(**values)


def help_text() -> str:
    lines = ["environment (default in brackets; the commands that read it):"]
    for s in SETTINGS:
        default = "required" if s.default is None else (f"[{s.default}]" if s.default else "[unset]")
        used = commands_of(s)
        lines.append(f"  {s.name:26s} {s.help} {default} ({'all' if len(used) == len(COMMANDS) else ', '.join(used)})")
    return "\n".join(lines) + "\n"
