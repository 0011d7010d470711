"""Exit codes of ``ocr-worker`` and the errors that carry them. Each error is one line, logged
with its code; none is a traceback. The README's troubleshooting table lists the same codes."""

from __future__ import annotations

EXIT_OK = 0
#: A setting is missing or wrong (``ConfigError``).
EXIT_CONFIG = 2
# `warm`: the cache could not be made ready (``CacheError``).
EXIT_LOCK_TIMEOUT = 10
EXIT_CHECKSUM = 11
EXIT_SOURCE_UNREACHABLE = 12
EXIT_READ_ONLY_MISSING = 13
EXIT_BAD_ARCHIVE = 14
#: worker/serve: a model is not ready; run warm first (``ModelsNotReady``).
EXIT_NOT_READY = 15
EXIT_CONVERSION = 16


class ConfigError(Exception):
    """A setting is missing or wrong."""

    code = EXIT_CONFIG


class CacheError(Exception):
    """A cache failure with its exit code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


class ModelsNotReady(RuntimeError):
    """A model of the lock is not in the cache, or not whole."""

    code = EXIT_NOT_READY


#: What ``ocr-worker`` turns into an exit code and one log line.
EXITING = (ConfigError, CacheError, ModelsNotReady)
