"""Every environment setting of ``ocr-worker``: its default, its bounds and the commands that read it.

:func:`load` reads and checks all of a command's settings at once, before anything starts: a bad
value is one line (``config error: OCR_PORT: 'abc' is not an integer``) and exit 2, never a
traceback halfway through a start. ``ocr-worker --help`` lists this table (:func:`help_text`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable, Mapping, Optional

from ocr_worker.cache import BACKENDS
from ocr_worker.documents import DOWNSCALE_PIXELS, MAX_PAGE_PIXELS, MAX_PAGES, PDF_DPI
from ocr_worker.exits import ConfigError
from ocr_worker.heartbeat import DEFAULT_FILE, DEFAULT_MAX_AGE
from ocr_worker.inference import DEFAULT_MAX_WAITING
from ocr_worker.models import DEFAULT_TIER, TIERS

EVERY = ("warm", "verify", "lock", "health", "worker", "serve")
CACHE = ("warm", "verify", "lock", "worker", "serve")
OCR = ("worker", "serve")
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


def _backend(value: str) -> Optional[str]:
    return None if value in BACKENDS else f"must be one of {' | '.join(BACKENDS)}"


def _tier(value: str) -> Optional[str]:
    return None if value in TIERS else f"must be one of {' | '.join(TIERS)}"


def _log_level(value: str) -> Optional[str]:
    return None if value.upper() in ("DEBUG", "INFO", "WARNING", "ERROR") else "must be DEBUG, INFO, WARNING or ERROR"


@dataclass(frozen=True)
class Setting:
    name: str
    #: None: the command cannot run without it; "": optional, unset by default.
    default: Optional[str]
    help: str
    commands: tuple[str, ...]
    integer: bool = False
    minimum: Optional[int] = None
    maximum: Optional[int] = None
    check: Optional[Callable[[str], Optional[str]]] = None

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
    Setting("PADDLE_PDX_CACHE_HOME", "/var/cache/paddlex", "the model cache, the EFS mount", CACHE),
    Setting("OCR_MODEL_TIER", DEFAULT_TIER, f"the model set: {' | '.join(TIERS)} (README: Model tiers)", CACHE,
            check=_tier),
    Setting("OCR_MODEL_LOCK", "", "a model lock file of your own, instead of a tier's", CACHE),
    Setting("OCR_MODEL_SOURCE", "official", "official | s3://bucket/prefix | https://host/path | file:///dir", CACHE,
            check=_model_source),
    Setting("OCR_BACKEND", "", "inference engine: onnxruntime | paddle (Paddle-format models only); unset: "
            "onnxruntime if the lock has an ONNX model, else paddle", CACHE, check=_backend),
    Setting("LOG_LEVEL", "INFO", "DEBUG | INFO | WARNING | ERROR", EVERY, check=_log_level),
    Setting("OCR_LOCK_TIMEOUT", "900", "seconds warm waits for another warmer", ("warm",), True, 1),
    Setting("OCR_MAX_DOCUMENT_SECONDS", "600", "a document still unread after this gets an error", OCR, True, 1),
    Setting("OCR_MAX_PAGES", str(MAX_PAGES), "pages of a PDF or frames of a TIFF in one document", OCR, True, 1),
    Setting("OCR_DOWNSCALE_PIXELS", str(DOWNSCALE_PIXELS), "larger pages are downscaled to this many pixels "
            "before OCR; it bounds memory", OCR, True, 1_000_000, MAX_PAGE_PIXELS),
    Setting("OCR_PDF_DPI", str(PDF_DPI), "resolution PDF pages are rendered at", OCR, True, 72, 600),
    Setting("OCR_CPU_THREADS", "0", "inference threads; 0: one per CPU the task has", OCR, True, 0, 64),
    Setting("OCR_HEARTBEAT_FILE", DEFAULT_FILE, "touched while the worker or server loop runs",
            ("health", "worker", "serve")),
    Setting("OCR_HEARTBEAT_MAX_AGE", str(DEFAULT_MAX_AGE), "seconds after which `health` fails", ("health",), True, 1),
    Setting("OCR_QUEUE_URL", None, "the SQS queue of documents (required)", ("worker",)),
    Setting("OCR_OUTPUT_BUCKET", None, "the bucket results are written to (required)", ("worker",)),
    Setting("OCR_OUTPUT_PREFIX", "results/", "key prefix of the results", ("worker",)),
    Setting("OCR_VISIBILITY_TIMEOUT", "120", "lease on a received message, renewed while it is worked on",
            ("worker",), True, 1, SQS_MAX_VISIBILITY),
    Setting("OCR_RETRY_DELAY", "30", "seconds before a failed document is tried again", ("worker",), True, 0,
            SQS_MAX_VISIBILITY),
    Setting("OCR_WAIT_SECONDS", "20", "SQS long-poll seconds", ("worker",), True, 0, 20),
    Setting("OCR_MAX_FAILURES", "3", "failed attempts before the worker dead-letters a message", ("worker",), True, 1),
    Setting("OCR_DLQ_URL", "", "the dead-letter queue such messages move to", ("worker",)),
    Setting("OCR_STOP_SECONDS", "120", "seconds from SIGTERM to SIGKILL, the container's stopTimeout", ("worker",),
            True, 2, FARGATE_MAX_STOP_TIMEOUT),
    Setting("ECS_AGENT_URI", "", "set by ECS: the worker protects its task from scale-in while busy", ("worker",)),
    Setting("OCR_HOST", "0.0.0.0", "address to listen on", ("serve",)),
    Setting("OCR_PORT", "8080", "port to listen on (0: any free port)", ("serve",), True, 0, 65535),
    Setting("OCR_MAX_WAITING", str(DEFAULT_MAX_WAITING), "requests that may wait for the inference thread; "
            "more get 503", ("serve",), True, 1),
    Setting("OCR_READ_TIMEOUT", "30", "seconds a client may stay silent while sending a request", ("serve",),
            True, 1),
    Setting("OCR_MAX_CONNECTIONS", "256", "open connections and requests at once; more get 503", ("serve",),
            True, 1),
)


def load(command: str, environ: Mapping[str, str] = os.environ) -> dict:
    """Every setting ``command`` reads, checked: name -> value (int for numbers, None if unset)."""
    config = {s.name: s.read(environ) for s in SETTINGS if command in s.commands}
    if environ.get("OCR_MODEL_TIER") and environ.get("OCR_MODEL_LOCK"):
        raise ConfigError("OCR_MODEL_TIER and OCR_MODEL_LOCK are both set: a tier is a lock; set one")
    return config


def help_text() -> str:
    lines = ["environment (default in brackets; the commands that read it):"]
    for s in SETTINGS:
        default = "required" if s.default is None else (f"[{s.default}]" if s.default else "[unset]")
        used = "all" if s.commands == EVERY else ", ".join(s.commands)
        lines.append(f"  {s.name:26s} {s.help} {default} ({used})")
    return "\n".join(lines) + "\n"
