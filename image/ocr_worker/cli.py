"""ocr-worker warm | verify | lock | worker | serve. Settings come from the environment."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Any, Callable

from ocr_worker import heartbeat, logs, settings, signals
from ocr_worker.cache import ModelCache
from ocr_worker.engine import configure_paddlex
from ocr_worker.exits import EXITING, ConfigError
from ocr_worker.inference import InferenceThread
from ocr_worker.models import ModelLock, default_lock_path
from ocr_worker.settings import CacheSettings, HealthSettings, OcrSettings, ServeSettings, WarmSettings, WorkerSettings

log = logging.getLogger("ocr_worker")


def import_inference_libraries() -> None:
    """PaddleOCR, imported on the main thread before the engine's thread loads the models, with
    Paddle's signal handlers kept out (:mod:`ocr_worker.signals`)."""
    configure_paddlex()  # first: importing PaddleX writes under its cache home
    signals.import_paddle()
    import paddleocr  # noqa: F401


def lock_path(config: CacheSettings) -> Path:
    return default_lock_path(config.model_lock, config.model_tier)


def model_cache(config: CacheSettings) -> ModelCache:
    """The cache of the configured lock and engine; ConfigError on a bad lock or engine."""
    try:
        return ModelCache(Path(config.cache_home), ModelLock.load(lock_path(config)), config.model_source,
                          config.backend)
    except ValueError as e:
        raise ConfigError(str(e)) from None


def cmd_warm(args, config: WarmSettings) -> int:
    model_cache(config).warm(lock_timeout=config.lock_timeout)
    return 0


def cmd_verify(args, config: CacheSettings) -> int:
    cache = model_cache(config)
    problems = 0
    for state in cache.states(deep=not args.quick):
        print(f"{state.name:32s} {state.state:8s} {state.size:>12,d} bytes {state.detail}".rstrip())
        problems += state.state != "ready"
    return 1 if problems else 0


def cmd_lock(args, config: CacheSettings) -> int:
    cache = model_cache(config)
    cache.pinned_lock().save(lock_path(config))
    print(f"pinned {len(cache.lock.models)} models in {lock_path(config)}")
    return 0


def cmd_health(args, config: HealthSettings) -> int:
    age = heartbeat.age_seconds(config.heartbeat_file)
    limit = config.heartbeat_max_age
    if age is None:
        print(f"unhealthy: no heartbeat at {config.heartbeat_file} (the loop has not started)")
        return 1
    if age > limit:
        print(f"unhealthy: last heartbeat {age:.0f} s ago (limit {limit} s)")
        return 1
    print(f"healthy: last heartbeat {age:.0f} s ago")
    return 0


def _engine_loader(config: OcrSettings):
    """Loads the engine (on the inference thread)."""
    from ocr_worker.engine import OcrEngine

    return lambda: OcrEngine(model_cache(config), config.max_pages, config.downscale_pixels, config.pdf_dpi,
                             config.cpu_threads)


def cmd_worker(args, config: WorkerSettings) -> int:
    from ocr_worker.worker import Worker

    log.info("loading the models")
    import_inference_libraries()
    # The worker's loop hands each document to the thread that loaded the engine.
    inference = InferenceThread(_engine_loader(config), max_waiting=1)
    inference.wait_loaded()  # ModelsNotReady: exit EXIT_NOT_READY before touching the queue
    worker = Worker(inference, config)
    worker.install_signal_handlers()
    worker.run()
    return 0


def cmd_serve(args, config: ServeSettings) -> int:
    from ocr_worker.server import serve

    host = args.host if args.host is not None else config.host
    port = args.port if args.port is not None else config.port
    if not 0 <= port <= 65535:
        raise ConfigError(f"--port: {port} is not a TCP port")
    inference = InferenceThread(_engine_loader(config), config.max_waiting)
    serve(inference, host, port, max_connections=config.max_connections,
          max_document_seconds=config.max_document_seconds, read_timeout=config.read_timeout,
          heartbeat_file=config.heartbeat_file)
    inference.wait_loaded(0)  # re-raises a load error: ModelsNotReady exits EXIT_NOT_READY
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ocr-worker", description=__doc__, epilog=settings.help_text(),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("warm", help="make the shared model cache ready (once, however many run at once)")
    verify = sub.add_parser("verify", help="print each model's state; non-zero exit on any problem")
    verify.add_argument("--quick", action="store_true", help="check sizes only, not sha256 (health checks)")
    sub.add_parser("lock", help="pin the warmed cache's checksums into the lock file")
    sub.add_parser("health", help="exit 0 while the worker or server loop keeps beating (health checks)")
    sub.add_parser("worker", help="process documents from the queue")
    serve = sub.add_parser("serve", help="HTTP: /healthz, /readyz, POST /ocr")
    serve.add_argument("--host", default=None, help="default: OCR_HOST")
    serve.add_argument("--port", type=int, default=None, help="default: OCR_PORT")
    args = parser.parse_args(argv)
    logs.setup()
    handlers: dict[str, Callable[[argparse.Namespace, Any], int]] = {
        "warm": cmd_warm, "verify": cmd_verify, "lock": cmd_lock, "health": cmd_health, "worker": cmd_worker,
        "serve": cmd_serve}
    handler = handlers[args.command]
    if args.command in ("warm", "worker"):  # serve answers SIGTERM through uvicorn
        signals.stop_promptly()
    try:
        config = settings.load(args.command)  # every setting checked before anything starts
        # On the package's logger too: importing Paddle sets the root logger to WARNING.
        for logger in (logging.getLogger(), log):
            logger.setLevel(config.log_level.upper())
        return handler(args, config)
    except EXITING as error:  # one line and its exit code (ocr_worker.exits)
        message = f"config error: {error}" if isinstance(error, ConfigError) else str(error)
        log.error(message, extra={"fields": {"exit_code": error.code}})
        return error.code
    except signals.Stopped as stopped:
        log.info("stopped before ready", extra={"fields": {"signal": str(stopped)}})
        # The model may still be loading on a daemon thread inside native code: exit now rather
        # than through interpreter shutdown, which would wait on or crash in it.
        logging.shutdown()
        sys.stdout.flush()
        os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
