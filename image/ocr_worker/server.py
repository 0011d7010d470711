"""HTTP on FastAPI and uvicorn (as PaddleX's own serving): GET /healthz, GET /readyz, POST /ocr.

POST /ocr takes the document as the raw body or as a multipart file part (``curl -F file=@scan.pdf``).
The body limit is enforced while reading, a client that goes quiet mid-body is cut off after
OCR_READ_TIMEOUT, uvicorn refuses malformed lengths, and every inference runs on the one
inference thread (:mod:`ocr_worker.inference`). ``GET /openapi.json`` describes the API.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.parser
import email.policy
import logging
import socket
import threading
import time
from typing import Any, Optional

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from ocr_worker.deadline import Deadline
from ocr_worker.documents import MAX_BYTES, DocumentError
from ocr_worker.heartbeat import DEFAULT_FILE, Heartbeat
from ocr_worker.inference import Busy, InferenceThread

log = logging.getLogger("ocr_worker.server")
#: A body this far over the limit is not drained: the connection is closed instead.
DRAIN_FACTOR = 4


class Line(BaseModel):
    text: str
    score: float
    box: list[list[int]]


class Page(BaseModel):
    page: int
    lines: list[Line]
    seconds: Optional[float] = None
    error: Optional[str] = None


class OcrResult(BaseModel):
    pages: list[Page]
    models: list[str]
    seconds: float


class Error(BaseModel):
    error: str


class Readiness(BaseModel):
    status: str
    models: list[str] = []
    error: Optional[str] = None


DOCUMENT_TYPES = ("application/pdf", "image/png", "image/jpeg", "image/tiff", "application/octet-stream")
OCR_REQUEST_BODY = {"required": True, "content": {
    **{kind: {"schema": {"type": "string", "format": "binary"}} for kind in DOCUMENT_TYPES},
    "multipart/form-data": {"schema": {"type": "object", "required": ["file"],
                                       "properties": {"file": {"type": "string", "format": "binary"}}}},
}}
ERRORS: dict[int | str, dict[str, Any]] = {
          400: {"model": Error, "description": "bad document; the message names what is wrong"},
          408: {"model": Error, "description": "the client stopped sending the body (OCR_READ_TIMEOUT)"},
          413: {"model": Error, "description": f"the body is over {MAX_BYTES} bytes"},
          500: {"model": Error, "description": "a bug, logged as one line"},
          503: {"model": Error, "description": "models not loaded yet, or OCR_MAX_WAITING requests waiting; "
                                               "see Retry-After"}}


class _Refused(Exception):
    def __init__(self, status: int, message: str, headers: Optional[dict] = None) -> None:
        super().__init__(message)
        self.status, self.headers = status, headers


def create_app(inference: InferenceThread, *, max_document_seconds: int = 600, read_timeout: int = 30,
               max_bytes: int = MAX_BYTES, heartbeat_file: str = DEFAULT_FILE) -> FastAPI:
    heartbeat = Heartbeat(heartbeat_file)

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        async def beat() -> None:  # the event loop turns: the server is serving
            while True:
                heartbeat.beat()
                await asyncio.sleep(heartbeat.every)
        task = asyncio.create_task(beat())
        yield
        task.cancel()

    app = FastAPI(title="ocr-worker", version="1", lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="PaddleOCR over HTTP, on models from the shared cache.")

    @app.get("/healthz", summary="the process is serving")
    async def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}},
             summary="200 once the models are loaded")
    async def readyz():
        if inference.engine is not None:
            return Readiness(status="ready", models=inference.model_names)
        body = Readiness(status="failed" if inference.load_error else "loading", error=inference.load_error)
        return JSONResponse(body.model_dump(), status_code=503)

    @app.post("/ocr", response_model=OcrResult, responses=ERRORS, summary="OCR a PNG, JPEG, TIFF or PDF",
              openapi_extra={"requestBody": OCR_REQUEST_BODY})
    async def ocr(request: Request):
        start = time.monotonic()
        fields: dict[str, Any] = {}
        try:
            data = await _read_body(request, max_bytes, read_timeout)
            fields["bytes"] = len(data)
            if inference.engine is None:
                raise _Refused(503, "models are not loaded yet", {"Retry-After": "5"})
            try:
                future = inference.submit(lambda engine: engine.ocr_document(
                    data, on_page=Deadline(max_document_seconds, "OCR_MAX_DOCUMENT_SECONDS")))
            except Busy as error:
                raise _Refused(503, f"busy: {error}", {"Retry-After": "5"}) from None
            result = await asyncio.wrap_future(future)
            fields["pages"] = len(result["pages"])
            response = JSONResponse(result)
        except _Refused as refused:
            response = JSONResponse({"error": str(refused)}, status_code=refused.status, headers=refused.headers)
        except DocumentError as error:
            response = JSONResponse({"error": str(error)}, status_code=400)
        except Exception as error:  # a bug, not the document: one structured line, a JSON 500
            fields["error"] = f"{type(error).__name__}: {error}"
            response = JSONResponse({"error": "internal error; see the server log"}, status_code=500)
        fields.update(status=response.status_code, seconds=round(time.monotonic() - start, 3))
        if "error" in fields:
            log.error("internal error", extra={"fields": fields})
        else:
            log.info("ocr", extra={"fields": fields})
        return response

    return app


async def _read_body(request: Request, max_bytes: int, read_timeout: int) -> bytes:
    """The document: the whole body, or its multipart file part. Refused as soon as it is known to
    be over ``max_bytes``; a moderately oversized body is drained so the client reads the answer."""
    declared = request.headers.get("content-length")
    if declared is not None and int(declared) > DRAIN_FACTOR * max_bytes:  # uvicorn checked it is a number
        raise _Refused(413, f"document is {declared} bytes; the limit is {max_bytes}")
    chunks, size = [], 0
    stream = request.stream().__aiter__()
    while True:
        try:
            chunk = await asyncio.wait_for(stream.__anext__(), read_timeout)
        except StopAsyncIteration:
            break
        except asyncio.TimeoutError:
            raise _Refused(408, f"no data for {read_timeout} s (OCR_READ_TIMEOUT) after {size} bytes") from None
        size += len(chunk)
        if size <= max_bytes:
            chunks.append(chunk)
        elif size > DRAIN_FACTOR * max_bytes:
            break
    if size > max_bytes:
        raise _Refused(413, f"document is {size if declared is None else declared} bytes; the limit is {max_bytes}")
    data = b"".join(chunks)
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        data = _uploaded_file(request.headers["content-type"], data)
    return data


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
    payload = chosen.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


def serve(inference: InferenceThread, host: str, port: int, *, max_connections: int = 256, **app_options) -> None:
    """Serve until SIGTERM, or until the models fail to load (then ``inference.load_error`` says why)."""
    import uvicorn

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)  # connections wait in the backlog until uvicorn's loop accepts them
    config = uvicorn.Config(create_app(inference, **app_options), log_config=None, access_log=False,
                            limit_concurrency=max_connections, timeout_graceful_shutdown=30)
    server = uvicorn.Server(config)

    def log_load() -> None:
        inference.loaded.wait()
        if inference.engine is not None:
            log.info("ready", extra={"fields": {"load_seconds": round(inference.engine.load_seconds, 2),
                                                "cpu_threads": inference.engine.cpu_threads}})
        else:
            log.error("model load failed", extra={"fields": {"error": inference.load_error}})
            server.should_exit = True

    threading.Thread(target=log_load, daemon=True).start()
    log.info("listening", extra={"fields": {"host": host, "port": sock.getsockname()[1]}})
    server.run(sockets=[sock])
