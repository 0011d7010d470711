"""The time one document may take, checked after each page by the queue worker and the server.

``OCR_MAX_DOCUMENT_SECONDS`` bounds every document: past it, the document is refused
(:class:`DocumentTooLong`, an error result or a 400). The worker also has a stop deadline once
SIGTERM arrives (the task's stopTimeout less a margin): when the pages left, at the pace so far,
would end after it, the document is :class:`Interrupted` and goes back to the queue.
"""

from __future__ import annotations

import math
import time
from typing import Callable

from ocr_worker.documents import DocumentError


class DocumentTooLong(DocumentError):
    """The document took longer than its limit: refused, not retried."""


class Interrupted(Exception):
    """Stopping, and the rest of the document cannot finish before the stop deadline."""


class Deadline:
    """``deadline(done, total)`` after each page raises DocumentTooLong or Interrupted.

    ``setting`` names the limit in the message (the worker's config key, the server's variable).
    ``stop_at()`` is the monotonic time the process must be done by (infinity while not stopping)."""

    def __init__(self, limit: int, setting: str, stop_at: Callable[[], float] = lambda: math.inf,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.setting, self.stop_at, self.clock = limit, setting, stop_at, clock
        self.start = clock()

    def __call__(self, done: int, total: int) -> None:
        now = self.clock()
        elapsed = now - self.start
        if elapsed > self.limit:
            raise DocumentTooLong(f"document took more than {self.limit} s ({self.setting}) after {done} of "
                                  f"{total} pages")
        if done < total and now + elapsed / done * (total - done) > self.stop_at():
            raise Interrupted()
