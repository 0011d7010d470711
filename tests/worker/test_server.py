"""`serve`: health, readiness, OCR over HTTP, and 4xx for bad input while it keeps serving."""

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from tests.worker.conftest import worker_env
from tests.worker.docs import INVOICE, encode, encrypted_pdf, text_image

pytestmark = [pytest.mark.ocr, pytest.mark.slow]


def call(url, data=None):
    request = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture(scope="module")
def server(warm_cache, mirror):
    proc = subprocess.Popen([sys.executable, "-m", "ocr_worker", "serve", "--host", "127.0.0.1", "--port", "0"],
                            env=worker_env(warm_cache, mirror / "models.lock.json", f"file://{mirror}"),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    port = None
    while port is None:
        entry = json.loads(proc.stdout.readline())
        port = entry.get("port")
    url = f"http://127.0.0.1:{port}"
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
    assert status[1]["models"] == ["PP-OCRv5_mobile_det", "PP-OCRv5_mobile_rec"]


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
