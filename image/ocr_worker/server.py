"""HTTP for local use and health: GET /healthz, GET /readyz, POST /ocr (image or PDF bytes)."""

from __future__ import annotations

import email.parser
import email.policy
import json
import logging
import threading
import time
from typing import Optional
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from ocr_worker.documents import MAX_BYTES, DocumentError
from ocr_worker.heartbeat import Heartbeat
from ocr_worker.inference import DEFAULT_MAX_WAITING, Busy, InferenceThread

log = logging.getLogger("ocr_worker.server")


class OcrServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, load_engine, max_waiting: int = DEFAULT_MAX_WAITING,
                 max_document_seconds: int = 600, read_timeout: int = 30) -> None:
        super().__init__(address, _Handler)
        self.max_document_seconds, self.read_timeout = max_document_seconds, read_timeout
        self.heartbeat = Heartbeat()
        # Request threads never touch the engine: every inference runs on this one thread.
        self.inference = InferenceThread(load_engine, max_waiting)
        threading.Thread(target=self._log_load, daemon=True).start()

    def service_actions(self) -> None:
        # Runs on every turn of serve_forever's loop: the heartbeat shows the server is serving.
        self.heartbeat.beat()

    def _log_load(self) -> None:
        self.inference.loaded.wait()
        if self.inference.engine is not None:
            log.info("ready", extra={"fields": {"load_seconds": round(self.inference.engine.load_seconds, 2)}})
        else:
            log.error("model load failed", extra={"fields": {"error": self.inference.load_error}})


class _Handler(BaseHTTPRequestHandler):
    server: OcrServer

    def setup(self) -> None:
        # Seconds a client may stay silent while sending its request (OCR_READ_TIMEOUT): a slow
        # client is cut off instead of holding a thread. A socket timeout on every read.
        self.timeout = self.server.read_timeout
        super().setup()

    def _deadline(self):
        """Stops a document after OCR_MAX_DOCUMENT_SECONDS, checked after each page."""
        limit, start = self.server.max_document_seconds, time.monotonic()

        def on_page(index: int) -> None:
            if time.monotonic() - start > limit:
                raise DocumentError(f"document took more than {limit} s (OCR_MAX_DOCUMENT_SECONDS) after "
                                    f"{index + 1} pages")
        return on_page

    def log_message(self, fmt, *args) -> None:
        log.info(fmt % args)

    def _reply(self, status: int, body: dict, headers: Optional[dict] = None) -> None:
        data = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == "/healthz":
            self._reply(200, {"status": "ok"})
        elif self.path == "/readyz":
            inference = self.server.inference
            if inference.engine is not None:
                self._reply(200, {"status": "ready", "models": inference.model_names})
            else:
                self._reply(503, {"status": "failed" if inference.load_error else "loading",
                                  "error": inference.load_error})
        else:
            self._reply(404, {"error": f"no such path: {self.path}"})

    def do_POST(self) -> None:
        try:
            self._post()
        except (TimeoutError, ConnectionError):
            self.close_connection = True  # the client went quiet or away: nothing to answer
        except Exception as error:  # a bug, not the document: one structured line, a JSON 500
            fields = {"path": self.path, "error": f"{type(error).__name__}: {error}"}
            log.error("internal error", extra={"fields": fields})
            self.close_connection = True
            self._reply(500, {"error": "internal error; see the server log"})

    def _post(self) -> None:
        if self.path != "/ocr":
            return self._reply(404, {"error": f"no such path: {self.path}"})
        raw = self.headers.get("Content-Length")
        if raw is None or not raw.strip().isdigit():
            # Without a valid length the body cannot be read safely: -1 or "abc" must not pass.
            self.close_connection = True
            return self._reply(411 if raw is None else 400,
                               {"error": f"Content-Length must be a non-negative integer, got {raw!r}"})
        length = int(raw)
        if length > MAX_BYTES:
            # Drain a moderately oversized body so the client reads our answer, not a broken pipe.
            remaining = length if length <= 4 * MAX_BYTES else 0
            while remaining > 0 and (chunk := self.rfile.read(min(remaining, 1 << 20))):
                remaining -= len(chunk)
            self.close_connection = True
            return self._reply(413, {"error": f"document is {length} bytes; the limit is {MAX_BYTES}"})
        data = self.rfile.read(length)
        if len(data) < length:
            self.close_connection = True
            return self._reply(400, {"error": f"the body ended after {len(data)} of {length} bytes"})
        if self.headers.get_content_type() == "multipart/form-data":  # curl -F file=@scan.pdf
            try:
                data = _uploaded_file(self.headers["Content-Type"], data)
            except DocumentError as error:
                return self._reply(400, {"error": str(error)})
        if self.server.inference.engine is None:
            return self._reply(503, {"error": "models are not loaded yet"}, {"Retry-After": "5"})
        try:
            result = self.server.inference.ocr_document(data, on_page=self._deadline())
        except Busy as error:
            return self._reply(503, {"error": f"busy: {error}"}, {"Retry-After": "5"})
        except DocumentError as error:
            return self._reply(400, {"error": str(error)})
        self._reply(200, result)


def _uploaded_file(content_type: str, body: bytes) -> bytes:
    """The first file part of a multipart/form-data body (the part with a filename, else one
    named ``file``)."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode("latin-1") + body)
    if not message.is_multipart():
        raise DocumentError("multipart upload without parts: send the document as a file part")
    parts = [part for part in message.iter_parts() if part.get_content_disposition() == "form-data"]
    chosen = next((p for p in parts if p.get_filename()), None) or next(
        (p for p in parts if p.get_param("name", header="content-disposition") == "file"), None)
    if chosen is None:
        raise DocumentError("multipart upload has no file part: use -F file=@<document>")
    return chosen.get_payload(decode=True) or b""
