"""`serve`: health, readiness, OCR over HTTP, 4xx for bad input while it keeps serving, every
valid request answered under sequential and concurrent load, 503 with Retry-After when full."""

import json
import logging
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from ocr_worker.inference import InferenceThread
from ocr_worker.server import OcrResult, create_app

from tests.worker.conftest import run_cli, worker_env
from tests.worker.docs import INVOICE, PAGE_TWO, encode, encrypted_pdf, text_image

pytestmark = [pytest.mark.ocr, pytest.mark.slow]


def call(url, data=None, headers=False):
    request = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(request, timeout=300) as response:
            status, body, got = response.status, json.loads(response.read()), response.headers
    except urllib.error.HTTPError as error:
        status, body, got = error.code, json.loads(error.read()), error.headers
    return (status, body, got) if headers else (status, body)


def start_server(warm_cache, mirror, **env):
    proc = subprocess.Popen([sys.executable, "-m", "ocr_worker", "serve", "--host", "127.0.0.1", "--port", "0"],
                            env=worker_env(warm_cache, mirror / "models.lock.json", f"file://{mirror}", **env),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    port = None
    while port is None:
        entry = json.loads(proc.stdout.readline())
        port = entry.get("port")
    return f"http://127.0.0.1:{port}", proc


@pytest.fixture(scope="module")
def server(warm_cache, mirror):
    url, proc = start_server(warm_cache, mirror)
    yield url, proc
    proc.terminate()
    proc.wait(timeout=30)


def test_healthz_then_ready(server):
    url, _ = server
    assert call(f"{url}/healthz") == (200, {"status": "ok"})
    deadline = time.monotonic() + 120
    while (status := call(f"{url}/readyz"))[0] != 200:
        assert status[0] == 503 and status[1]["status"] == "loading"
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert status[1]["models"] == ["PP-LCNet_x1_0_doc_ori", "PP-OCRv6_tiny_det", "PP-OCRv6_tiny_rec"]


BAD = {
    "empty": (b"", 400, "empty document"),
    "not a document": (b"GIF89a....", 400, "not a PNG, JPEG, TIFF or PDF"),
    "encrypted pdf": (encrypted_pdf(), 400, "encrypted PDF"),
    "over the limit": (b"%PDF-" + b"0" * (50 * 1024 * 1024 + 1), 413, "the limit is"),
}


@pytest.mark.parametrize("data,status,message", BAD.values(), ids=BAD.keys())
def test_bad_input_is_a_4xx_and_the_server_keeps_serving(server, data, status, message):
    url, proc = server
    test_healthz_then_ready(server)
    got, body = call(f"{url}/ocr", data)
    assert got == status and message in body["error"]
    assert proc.poll() is None
    assert call(f"{url}/healthz")[0] == 200


def test_ocr_returns_the_text(server):
    url, _ = server
    test_healthz_then_ready(server)
    status, body = call(f"{url}/ocr", encode(text_image(INVOICE), "PNG"))
    assert status == 200
    assert [line["text"] for line in body["pages"][0]["lines"]] == [INVOICE]
    OcrResult.model_validate(body)  # what the OpenAPI description promises


def test_the_openapi_description_covers_both_upload_forms_and_every_answer(server):
    url, _ = server
    status, spec = call(f"{url}/openapi.json")
    assert status == 200
    post = spec["paths"]["/ocr"]["post"]
    assert {"multipart/form-data", "application/pdf", "image/png", "image/tiff"} <= set(post["requestBody"]["content"])
    assert set(post["responses"]) == {"200", "400", "408", "413", "500", "503"}
    assert set(spec["paths"]) == {"/healthz", "/readyz", "/ocr"}


class Broken:
    """An engine with a bug: the server must answer a JSON 500 and log one line."""
    model_names = ["broken"]

    def ocr_document(self, data, on_page=None):
        raise KeyError("a bug")


def test_a_bug_is_a_json_500_and_one_log_line(caplog):
    from fastapi.testclient import TestClient

    inference = InferenceThread(Broken)
    inference.wait_loaded(30)
    with TestClient(create_app(inference)) as client, caplog.at_level(logging.INFO, "ocr_worker.server"):
        response = client.post("/ocr", content=b"%PDF-1.4")
        assert client.get("/healthz").status_code == 200
    assert response.status_code == 500 and response.json() == {"error": "internal error; see the server log"}
    [record] = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert record.getMessage() == "internal error" and record.fields["error"] == "KeyError: 'a bug'"
    assert record.fields["status"] == 500 and record.exc_info is None


def lines_of(body):
    return [line["text"] for page in body["pages"] for line in page["lines"]]


def test_every_valid_request_is_answered_sequentially_and_concurrently(server):
    """PaddleOCR's predictor fails on every second call from a fresh thread: the server must run
    every inference on its one inference thread, whatever thread the request arrived on."""
    url, proc = server
    test_healthz_then_ready(server)
    documents = {INVOICE: encode(text_image(INVOICE), "PNG"), PAGE_TWO: encode(text_image(PAGE_TWO), "JPEG")}
    texts = [INVOICE, PAGE_TWO] * 25
    sequential = [call(f"{url}/ocr", documents[text]) for text in texts]
    assert [(status, lines_of(body)) for status, body in sequential] == [(200, [text]) for text in texts]
    with ThreadPoolExecutor(20) as pool:
        concurrent = list(pool.map(lambda text: call(f"{url}/ocr", documents[text]), texts[:20]))
    assert [(status, lines_of(body)) for status, body in concurrent] == [(200, [text]) for text in texts[:20]]
    assert proc.poll() is None


def test_a_full_queue_answers_503_with_retry_after(warm_cache, mirror):
    url, proc = start_server(warm_cache, mirror, OCR_MAX_WAITING="1")
    try:
        test_healthz_then_ready((url, proc))
        data = encode(text_image(INVOICE, (3000, 2000)), "PNG")
        with ThreadPoolExecutor(6) as pool:
            answers = list(pool.map(lambda _: call(f"{url}/ocr", data, headers=True), range(6)))
        busy = [(body, headers) for status, body, headers in answers if status == 503]
        done = [body for status, body, _ in answers if status == 200]
        assert busy and done and len(busy) + len(done) == 6
        assert all(headers["Retry-After"] == "5" and body["error"].startswith("busy:") for body, headers in busy)
        assert all(lines_of(body) == [INVOICE] for body in done)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.parametrize("env,message", [
    ({"OCR_PORT": "abc"}, "config error: OCR_PORT: 'abc' is not an integer"),
    ({"OCR_MAX_PAGES": "0"}, "config error: OCR_MAX_PAGES: 0 must be at least 1"),
    ({"OCR_MAX_WAITING": "many"}, "config error: OCR_MAX_WAITING: 'many' is not an integer"),
], ids=["port", "max pages", "max waiting"])
def test_a_bad_setting_is_one_line_and_exit_2(warm_cache, mirror, env, message):
    result = run_cli("serve", env=worker_env(warm_cache, mirror / "models.lock.json", f"file://{mirror}", **env))
    assert result.returncode == 2
    [line] = (result.stdout + result.stderr).strip().splitlines()
    assert message in line and "Traceback" not in line


def test_serve_exits_15_when_the_models_are_not_ready(tmp_path, mirror):
    result = run_cli("serve", "--port", "0", env=worker_env(tmp_path / "empty", mirror / "models.lock.json",
                                                            f"file://{mirror}"), timeout=120)
    assert result.returncode == 15
    assert "models not ready in the cache" in result.stdout + result.stderr


def raw_request(url, head: bytes, body: bytes = b"", wait: float = 30) -> bytes:
    """Send bytes as they are (no client-side checks) and read until the server closes."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=wait) as sock:
        sock.sendall(head + body)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize("length", [b"-1", b"abc", b"1, 2"], ids=["negative", "not a number", "a list"])
def test_a_bad_content_length_is_refused_without_reading(server, length):
    url, proc = server
    answer = raw_request(url, b"POST /ocr HTTP/1.1\r\nHost: x\r\nContent-Length: " + length + b"\r\n\r\n", b"x" * 1000)
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert proc.poll() is None and call(f"{url}/healthz")[0] == 200


def test_a_body_over_the_limit_is_refused_while_it_is_read(server):
    """No Content-Length (chunked): the limit holds as the body arrives, and it is not buffered."""
    url, proc = server
    chunk = b"%PDF-" + b"0" * (1 << 20)
    chunked = b"".join(b"%x\r\n" % len(chunk) + chunk + b"\r\n" for _ in range(60)) + b"0\r\n\r\n"
    answer = raw_request(url, b"POST /ocr HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", chunked)
    assert answer.startswith(b"HTTP/1.1 413 ") and b"the limit is 52428800" in answer
    assert proc.poll() is None


def test_a_silent_client_is_cut_off_and_the_server_goes_on(warm_cache, mirror):
    url, proc = start_server(warm_cache, mirror, OCR_READ_TIMEOUT="2")
    try:
        start = time.monotonic()
        answer = raw_request(url, b"POST /ocr HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n", b"x" * 10)
        assert answer.startswith(b"HTTP/1.1 408 ") and b"no data for 2 s (OCR_READ_TIMEOUT) after 10 bytes" in answer
        assert 1.5 < time.monotonic() - start < 20
        assert call(f"{url}/healthz")[0] == 200
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def multipart(fields: dict[str, tuple[str, bytes]]) -> tuple[bytes, str]:
    """A multipart/form-data body as `curl -F name=@file` sends it."""
    boundary = "----paddleocr-efs-test-boundary"
    body = b""
    for name, (filename, content) in fields.items():
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        body += (f"--{boundary}\r\nContent-Disposition: {disposition}\r\n"
                 f"Content-Type: application/octet-stream\r\n\r\n").encode() + content + b"\r\n"
    return body + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def test_multipart_uploads_are_read_like_a_raw_body(server):
    url, _ = server
    test_healthz_then_ready(server)
    body, content_type = multipart({"note": ("", b"ignored"), "file": ("scan.png", encode(text_image(INVOICE), "PNG"))})
    request = urllib.request.Request(f"{url}/ocr", data=body, method="POST", headers={"Content-Type": content_type})
    with urllib.request.urlopen(request, timeout=300) as response:
        assert response.status == 200 and lines_of(json.loads(response.read())) == [INVOICE]
    body, content_type = multipart({"note": ("", b"no file here")})
    request = urllib.request.Request(f"{url}/ocr", data=body, method="POST", headers={"Content-Type": content_type})
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(request, timeout=300)
    assert error.value.code == 400 and "no file part" in json.loads(error.value.read())["error"]
