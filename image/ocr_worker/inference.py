"""Every inference on one long-lived thread that owns the engine.

PaddleOCR's predictor is not safe across threads: called from a new thread each time (as
``ThreadingHTTPServer`` does), every second call fails with ``RuntimeError: std::exception``.
So one thread loads the engine and runs every call on it; callers hand it work through a bounded
queue and wait for the result. A full queue raises :class:`Busy` at once (HTTP 503 with
Retry-After) instead of piling up requests without limit.

Freed heap goes back to the system when the thread falls idle, not after every document: glibc
keeps what a large page freed (without a trim, RSS stays where each document left it:
tests/worker/test_memory.py), but trimming between back-to-back documents made every next one
fault its buffers back in, about 4% of the time a page took (docs/performance.md).
"""

from __future__ import annotations

import ctypes
import queue
import threading
from concurrent.futures import Future
from typing import Callable, Optional, TypeVar

from ocr_worker.documents import Source
from ocr_worker.engine import Engine, OnPage

T = TypeVar("T")

#: Requests that may wait for the inference thread (OCR_MAX_WAITING); more get Busy.
DEFAULT_MAX_WAITING = 32
#: Seconds without work after which the thread hands freed heap back to the system.
IDLE_TRIM_SECONDS = 1.0


def _libc():
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc: nothing to trim
        return None


_LIBC = _libc()


def release_memory() -> None:
    """Hand freed heap back to the system."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


class Busy(RuntimeError):
    """Every waiting slot is taken: try again later."""


class InferenceThread:
    """Loads the engine with ``load_engine()`` on its own thread, then runs submitted calls there,
    one at a time, in order. ``engine`` and ``load_error`` tell how loading went. ``trimmed`` is
    set once the thread, idle for ``idle_trim_seconds``, has released freed memory, and cleared
    when it takes the next call."""

    def __init__(self, load_engine: Callable[[], Engine], max_waiting: int = DEFAULT_MAX_WAITING,
                 idle_trim_seconds: float = IDLE_TRIM_SECONDS) -> None:
        self.engine: Optional[Engine] = None
        self.load_error: Optional[str] = None
        self._load_exception: Optional[BaseException] = None
        self.loaded = threading.Event()
        self.trimmed = threading.Event()
        self._idle_trim_seconds = idle_trim_seconds
        self._jobs: queue.Queue = queue.Queue(maxsize=max_waiting)
        self._thread = threading.Thread(target=self._run, args=(load_engine,), name="inference", daemon=True)
        self._thread.start()

    def _run(self, load_engine: Callable[[], Engine]) -> None:
        try:
            self.engine = load_engine()
        except BaseException as error:  # reported through load_error and wait_loaded()
            self.load_error = f"{type(error).__name__}: {error}"
            self._load_exception = error
            self.loaded.set()
            return
        self.loaded.set()
        while True:
            try:  # loading, like a call, freed memory: trim once the queue has stayed empty
                call, future = self._jobs.get(timeout=None if self.trimmed.is_set() else self._idle_trim_seconds)
            except queue.Empty:
                release_memory()
                self.trimmed.set()
                continue
            self.trimmed.clear()
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(call(self.engine))
                except BaseException as error:
                    future.set_exception(error)

    def wait_loaded(self, timeout: Optional[float] = None) -> Engine:
        """The engine, once loaded; re-raises what loading raised."""
        if not self.loaded.wait(timeout):
            raise TimeoutError("the engine is still loading")
        if self.engine is None:
            assert self._load_exception is not None  # loaded is set only after one or the other
            raise self._load_exception
        return self.engine

    def submit(self, call: Callable[[Engine], T]) -> "Future[T]":
        """Queue ``call(engine)``; raises Busy when every waiting slot is taken."""
        future: Future = Future()
        try:
            self._jobs.put_nowait((call, future))
        except queue.Full:
            raise Busy(f"{self._jobs.maxsize} requests are already waiting") from None
        return future

    def ocr_document(self, source: Source, on_page: Optional[OnPage] = None,
                     pages: Optional[tuple[int, int]] = None) -> dict:
        """``engine.ocr_document`` on the inference thread; ``on_page`` runs there too."""
        return self.submit(lambda engine: engine.ocr_document(source, on_page=on_page, pages=pages)).result()

    @property
    def model_names(self) -> list[str]:
        return self.engine.model_names if self.engine is not None else []
