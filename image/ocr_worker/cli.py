"""ocr-worker warm | verify | lock | worker | serve. Settings come from the environment."""

from __future__ import annotations

import argparse
import logging
import os
import threading
import sys
from pathlib import Path

from ocr_worker import heartbeat, logs
from ocr_worker.cache import EXIT_NOT_READY, CacheError, ModelCache
from ocr_worker.engine import ModelsNotReady
from ocr_worker.inference import DEFAULT_MAX_WAITING, InferenceThread
from ocr_worker.models import ModelLock, default_lock_path

log = logging.getLogger("ocr_worker")
EXIT_CONFIG = 2

ENV_HELP = """environment:
  PADDLE_PDX_CACHE_HOME   model cache home, the EFS mount (default /var/cache/paddlex)
  OCR_MODEL_LOCK          the model lock file (default: models.lock.json beside the package)
  OCR_MODEL_SOURCE        official | s3://bucket/prefix | https://host/path | file:///dir
  OCR_LOCK_TIMEOUT        seconds warm waits for another warmer (default 900)
  OCR_MAX_DOCUMENT_SECONDS  longer documents get an error (default 600)
  OCR_MAX_PAGES           pages of a PDF or frames of a TIFF in one document (default 200)
  OCR_QUEUE_URL, OCR_OUTPUT_BUCKET, OCR_OUTPUT_PREFIX (default results/)
  worker only:
  OCR_VISIBILITY_TIMEOUT  lease on a received message, renewed while it is worked on (default 120)
  OCR_RETRY_DELAY         seconds before a failed document is tried again (default 30)
  OCR_MAX_FAILURES        failed attempts before the worker dead-letters a message (default 3)
  OCR_DLQ_URL             the dead-letter queue it moves such messages to
  OCR_STOP_SECONDS        seconds from SIGTERM to SIGKILL, the container's stopTimeout (default 120)
  ECS_AGENT_URI           set by ECS: the worker protects its task from scale-in while busy
  OCR_HEARTBEAT_FILE      touched by worker/serve as their loop runs (default /tmp/ocr-worker.heartbeat)
  OCR_HEARTBEAT_MAX_AGE   seconds after which `health` fails (default 120)
  serve only:
  OCR_HOST, OCR_PORT      where to listen (default 0.0.0.0:8080)
  OCR_MAX_WAITING         requests that may wait for the inference thread; more get 503 (default 32)
  OCR_READ_TIMEOUT        seconds a client may stay silent while sending a request (default 30)
"""


class ConfigError(Exception):
    pass


def env(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None or value == "":
        raise ConfigError(f"{name} is not set")
    return value


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, str(default))
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name}: {raw!r} is not an integer") from None


def model_cache() -> ModelCache:
    try:
        lock = ModelLock.load(default_lock_path())
    except ValueError as e:
        raise ConfigError(str(e)) from None
    return ModelCache(Path(env("PADDLE_PDX_CACHE_HOME", "/var/cache/paddlex")), lock,
                      env("OCR_MODEL_SOURCE", "official"))


def cmd_warm(args) -> int:
    model_cache().warm(lock_timeout=env_int("OCR_LOCK_TIMEOUT", 900))
    return 0


def cmd_verify(args) -> int:
    cache = model_cache()
    problems = 0
    for state in cache.states(deep=not args.quick):
        print(f"{state.name:32s} {state.state:8s} {state.size:>12,d} bytes {state.detail}".rstrip())
        problems += state.state != "ready"
    return 1 if problems else 0


def cmd_lock(args) -> int:
    cache = model_cache()
    cache.pinned_lock().save(default_lock_path())
    print(f"pinned {len(cache.lock.models)} models in {default_lock_path()}")
    return 0


def cmd_health(args) -> int:
    age = heartbeat.age_seconds()
    limit = env_int("OCR_HEARTBEAT_MAX_AGE", heartbeat.DEFAULT_MAX_AGE)
    if age is None:
        print(f"unhealthy: no heartbeat at {heartbeat.path()} (the loop has not started)")
        return 1
    if age > limit:
        print(f"unhealthy: last heartbeat {age:.0f} s ago (limit {limit} s)")
        return 1
    print(f"healthy: last heartbeat {age:.0f} s ago")
    return 0


def _engine_loader():
    """Read the engine's settings here, so a bad value is a config error before anything starts;
    the returned function loads the engine (on the inference thread)."""
    from ocr_worker.documents import MAX_PAGES
    from ocr_worker.engine import OcrEngine

    max_pages = env_int("OCR_MAX_PAGES", MAX_PAGES)
    if max_pages < 1:
        raise ConfigError(f"OCR_MAX_PAGES: {max_pages} must be at least 1")
    return lambda: OcrEngine(model_cache(), max_pages=max_pages)


def cmd_worker(args) -> int:
    from ocr_worker.worker import Worker, WorkerConfig

    config = WorkerConfig(queue_url=env("OCR_QUEUE_URL"), output_bucket=env("OCR_OUTPUT_BUCKET"),
                          output_prefix=env("OCR_OUTPUT_PREFIX", "results/"),
                          visibility_timeout=env_int("OCR_VISIBILITY_TIMEOUT", 120),
                          retry_delay=env_int("OCR_RETRY_DELAY", 30),
                          wait_seconds=env_int("OCR_WAIT_SECONDS", 20),
                          dlq_url=os.environ.get("OCR_DLQ_URL") or None,
                          max_failures=env_int("OCR_MAX_FAILURES", 3),
                          max_document_seconds=env_int("OCR_MAX_DOCUMENT_SECONDS", 600),
                          stop_seconds=env_int("OCR_STOP_SECONDS", 120))
    # The worker's loop hands each document to the thread that loaded the engine.
    inference = InferenceThread(_engine_loader(), max_waiting=1)
    inference.wait_loaded()  # ModelsNotReady: exit EXIT_NOT_READY before touching the queue
    worker = Worker(inference, config)
    worker.install_signal_handlers()
    worker.run()
    return 0


def cmd_serve(args) -> int:
    from ocr_worker.server import OcrServer

    port = args.port if args.port is not None else env_int("OCR_PORT", 8080)
    if not 0 <= port <= 65535:
        raise ConfigError(f"OCR_PORT: {port} is not a TCP port")
    server = OcrServer((args.host, port), _engine_loader(), max_waiting=env_int("OCR_MAX_WAITING", DEFAULT_MAX_WAITING),
                       max_document_seconds=env_int("OCR_MAX_DOCUMENT_SECONDS", 600),
                       read_timeout=env_int("OCR_READ_TIMEOUT", 30))
    log.info("listening", extra={"fields": {"host": args.host, "port": server.server_address[1]}})

    def stop_if_the_models_fail_to_load() -> None:
        server.inference.loaded.wait()
        if server.inference.engine is None:
            server.shutdown()

    threading.Thread(target=stop_if_the_models_fail_to_load, daemon=True).start()
    server.serve_forever()
    server.inference.wait_loaded(0)  # re-raises the load error: ModelsNotReady exits EXIT_NOT_READY
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ocr-worker", description=__doc__, epilog=ENV_HELP,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("warm", help="make the shared model cache ready (once, however many run at once)")
    verify = sub.add_parser("verify", help="print each model's state; non-zero exit on any problem")
    verify.add_argument("--quick", action="store_true", help="check sizes only, not sha256 (health checks)")
    sub.add_parser("lock", help="pin the warmed cache's checksums into the lock file")
    sub.add_parser("health", help="exit 0 while the worker or server loop keeps beating (health checks)")
    sub.add_parser("worker", help="process documents from the queue")
    serve = sub.add_parser("serve", help="HTTP: /healthz, /readyz, POST /ocr")
    serve.add_argument("--host", default=os.environ.get("OCR_HOST", "0.0.0.0"))
    serve.add_argument("--port", type=int, default=None, help="default: OCR_PORT, else 8080")
    args = parser.parse_args(argv)
    logs.setup(os.environ.get("LOG_LEVEL", "INFO"))
    handler = {"warm": cmd_warm, "verify": cmd_verify, "lock": cmd_lock, "health": cmd_health, "worker": cmd_worker,
               "serve": cmd_serve}[args.command]
    try:
        return handler(args)
    except ConfigError as error:
        log.error(f"config error: {error}")
        return EXIT_CONFIG
    except CacheError as error:
        log.error(str(error), extra={"fields": {"exit_code": error.code}})
        return error.code
    except ModelsNotReady as error:
        log.error(str(error))
        return EXIT_NOT_READY


if __name__ == "__main__":
    sys.exit(main())
