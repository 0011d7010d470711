"""HTTP for local use and health: GET /healthz, GET /readyz, POST /ocr (image or PDF bytes)."""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from ocr_worker.documents import MAX_BYTES, DocumentError
from ocr_worker.heartbeat import Heartbeat

log = logging.getLogger("ocr_worker.server")


class OcrServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, load_engine) -> None:
        super().__init__(address, _Handler)
        self.engine = None
        self.load_error = None
        self.ocr_lock = threading.Lock()  # one inference at a time: the pipeline is not thread-safe
        self.heartbeat = Heartbeat()
        threading.Thread(target=self._load, args=(load_engine,), daemon=True).start()

    def service_actions(self) -> None:
        # Runs on every turn of serve_forever's loop: the heartbeat shows the server is serving.
        self.heartbeat.beat()

    def _load(self, load_engine) -> None:
        try:
            self.engine = load_engine()
            log.info("ready", extra={"fields": {"load_seconds": round(self.engine.load_seconds, 2)}})
        except Exception as error:
            self.load_error = f"{type(error).__name__}: {error}"
            log.error("model load failed", extra={"fields": {"error": self.load_error}})


class _Handler(BaseHTTPRequestHandler):
    server: OcrServer

    def log_message(self, fmt, *args) -> None:
        log.info(fmt % args)

    def _reply(self, status: int, body: dict) -> None:
        data = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == "/healthz":
            self._reply(200, {"status": "ok"})
        elif self.path == "/readyz":
            if self.server.engine is not None:
                self._reply(200, {"status": "ready", "models": self.server.engine.model_names})
            else:
                self._reply(503, {"status": "failed" if self.server.load_error else "loading",
                                  "error": self.server.load_error})
        else:
            self._reply(404, {"error": f"no such path: {self.path}"})

    def do_POST(self) -> None:
        if self.path != "/ocr":
            return self._reply(404, {"error": f"no such path: {self.path}"})
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BYTES:
            # Drain a moderately oversized body so the client reads our answer, not a broken pipe.
            remaining = length if length <= 4 * MAX_BYTES else 0
            while remaining > 0 and (chunk := self.rfile.read(min(remaining, 1 << 20))):
                remaining -= len(chunk)
            self.close_connection = True
            return self._reply(413, {"error": f"document is {length} bytes; the limit is {MAX_BYTES}"})
        data = self.rfile.read(length)
        if self.server.engine is None:
            return self._reply(503, {"error": "models are not loaded yet"})
        try:
            with self.server.ocr_lock:
                result = self.server.engine.ocr_document(data)
        except DocumentError as error:
            return self._reply(400, {"error": str(error)})
        self._reply(200, result)
