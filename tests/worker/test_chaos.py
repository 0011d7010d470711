"""Chaos: three real worker processes, running as the synthesized task role with IAM enforced, 63
documents (three of them long: 60 pages, read in 3 parts of the deployed 20 pages, queued first),
random SIGTERM and SIGKILL until the queue is empty. The queue redrives after the deployment's 5 crashed
receives, as deployed. Every document that still exists ends with exactly one result or error
result, written once; nothing reaches the dead-letter queue; no message is left; a kill redoes
at most the one part it hit. Prints how many were redone."""

import collections
import json
import random
import re
import signal
import subprocess
import sys
import time

import pytest

from tests.worker.conftest import worker_env
from tests.worker.docs import INVOICE, PAGE_TWO, encode, encrypted_pdf, pdf_of, text_image
from tests.worker.test_queue_worker import event, queue_empty, wait_for

pytestmark = [pytest.mark.chaos, pytest.mark.moto, pytest.mark.ocr, pytest.mark.slow]

WORKERS = 3
#: Bounded: exactly this many kills, spread over the work by progress (kill k once k/KILLS of the
#: documents are answered and parts written, 2-6 s after the last unless the work ran ahead), not
#: by the clock: a fast model or a slow machine moves every kill alike. Three in four go to a
#: worker in the middle of a document or part (waiting up to BUSY_WAIT s for one); the rest to any
#: worker, idle or still loading its models. At least half must land mid-document. No message (a
#: document, or a part) is killed mid-way more than KILLS_PER_DOCUMENT times: five crashed
#: receives dead-letter it by design (the deployment's redrive), and aiming at busy workers would
#: otherwise pile the kills on the slowest ones.
KILLS = 14
KILLS_PER_DOCUMENT = 2
BUSY_WAIT = 15
TIMEOUT = 900
#: OCR_MAX_BYTES for the workers, so the oversized documents stay small (the default is 500 MiB).
MAX_BYTES = 1_000_000
#: Long documents, read in parts of the deployed OCR_PAGES_PER_PART (20).
LONG_DOCUMENTS, LONG_PAGES = 3, 60
PARTS = LONG_DOCUMENTS * LONG_PAGES // 20


def corpus():
    """key -> (bytes, expected): "pages:N" for a result of N pages, or the error's words."""
    docs = {}
    for i in range(41):
        docs[f"incoming/single/{i:02d}.{'png' if i % 2 else 'jpg'}"] = (
            encode(text_image(f"{INVOICE} {i}"), "PNG" if i % 2 else "JPEG"), "pages:1")
    for i in range(8):
        pages = 2 + i % 2
        docs[f"incoming/multi/{i}.pdf"] = (pdf_of([INVOICE, PAGE_TWO, INVOICE][:pages]), f"pages:{pages}")
    for i in range(5):
        good = encode(text_image(INVOICE), "PNG")
        docs[f"incoming/corrupt/{i}.png"] = (good[:len(good) // (i + 2)], "unreadable image")
    for i in range(3):
        docs[f"incoming/encrypted/{i}.pdf"] = (encrypted_pdf(), "encrypted PDF")
    for i in range(2):
        docs[f"incoming/oversized/{i}.png"] = (b"\x89PNG\r\n\x1a\n" + bytes(MAX_BYTES + i), "the limit is")
    for i in range(LONG_DOCUMENTS):
        docs[f"incoming/long/{i}.pdf"] = (pdf_of([f"{INVOICE} {n}" for n in range(LONG_PAGES)]), f"pages:{LONG_PAGES}")
    docs["incoming/deleted/gone.png"] = (encode(text_image(INVOICE), "PNG"), None)
    return docs


def test_no_document_is_lost_or_written_twice_under_sigterm_and_sigkill(aws, warm_cache, mirror, tmp_path):
    s3, sqs = aws["s3"], aws["sqs"]
    # The output bucket is versioned, as deployed: its versions count the writes.
    docs = corpus()
    assert len(docs) == 63
    for key, (data, _) in docs.items():
        s3.put_object(Bucket=aws["in"], Key=key, Body=data)
    long_documents = [key for key in docs if key.startswith("incoming/long/")]
    for key in long_documents:  # first, so that their parts are queued ahead of the rest
        sqs.send_message(QueueUrl=aws["queue"], MessageBody=json.dumps(event(aws, key)))

    rng = random.Random(20261129)
    logs = []

    def start_logged():
        # A 30 s lease brings a SIGKILLed document back soon; 20 s from SIGTERM to SIGKILL makes
        # some SIGTERMs requeue a document that cannot finish in time.
        log = tmp_path / f"worker-{len(logs)}.log"
        logs.append(log)
        env = worker_env(warm_cache, mirror / "models.lock.json", f"file://{mirror}", **{
            **aws["role_env"], "OCR_QUEUE_URL": aws["queue"], "OCR_OUTPUT_BUCKET": aws["out"],
            "OCR_DLQ_URL": aws["dlq"], "OCR_WAIT_SECONDS": "1", "OCR_RETRY_DELAY": "0",
            "OCR_VISIBILITY_TIMEOUT": "30", "OCR_STOP_SECONDS": "20", "OCR_MAX_BYTES": str(MAX_BYTES)})
        proc = subprocess.Popen([sys.executable, "-m", "ocr_worker", "worker"], env=env,
                                stdout=open(log, "w"), stderr=subprocess.STDOUT)
        proc.log_path, proc.signalled = log, False
        return proc

    workers = [start_logged() for _ in range(WORKERS)]
    wait_for(lambda: len(splits_done(aws)) == LONG_DOCUMENTS, timeout=300)
    for key in docs:
        if key not in long_documents:
            sqs.send_message(QueueUrl=aws["queue"], MessageBody=json.dumps(event(aws, key)))
    s3.delete_object(Bucket=aws["in"], Key="incoming/deleted/gone.png")
    kills = collections.Counter()
    kills_mid_document = 0
    killed_in = collections.Counter()  # (document key, part) -> kills while a worker read it
    killed_parts = 0  # kills while a worker read a part of a long document
    deadline = time.monotonic() + TIMEOUT
    last_kill = time.monotonic()
    gap = rng.uniform(2, 6)
    existing = len(docs) - 1  # one is deleted after upload
    try:
        while sum(kills.values()) < KILLS or not (queue_empty(aws) and answered(aws, docs) == existing):
            assert time.monotonic() < deadline, f"not done after {TIMEOUT} s; kills: {dict(kills)}"
            for i, proc in enumerate(workers):
                if proc.poll() is not None:  # killed, or drained after SIGTERM: the service starts another
                    # SIGTERM exits 0, however early (while the models load, too).
                    assert proc.returncode in (0, -signal.SIGKILL), open(proc.log_path).read()[-3000:]
                    workers[i] = start_logged()
            k, done = sum(kills.values()), answered(aws, docs) + parts_written(aws)
            # Kill k is due at its share of the corpus, 2-6 s after the last; at once if the work
            # has run ahead to the next kill's share (a fast model must not outrun the kills).
            if k < KILLS and done >= share(k, docs) and (time.monotonic() - last_kill > gap
                                                         or done >= share(k + 1, docs)):
                victim, key = choose_victim(workers, killed_in, rng, any_worker=k % 4 == 3)
                if victim is not None:
                    if key:
                        killed_in[key] += 1
                        killed_parts += key[1] is not None
                    how = rng.choice([signal.SIGTERM, signal.SIGKILL])
                    kills_mid_document += bool(key)
                    workers[victim].send_signal(how)
                    workers[victim].signalled = True  # ECS signals a task once; its replacement is next
                    kills[how.name] += 1
                    last_kill, gap = time.monotonic(), rng.uniform(2, 6)
            time.sleep(0.5)
    finally:
        for proc in workers:
            proc.terminate()
        for proc in workers:
            proc.wait(timeout=150)

    # Exactly one answer per document that still exists, of the right kind, written once.
    for key, (_, expected) in docs.items():
        listing = s3.list_object_versions(Bucket=aws["out"], Prefix=f"results/{key}").get("Versions", [])
        written = collections.Counter(v["Key"] for v in listing)
        if expected is None:
            assert written == {}, f"{key} was deleted after upload yet got {dict(written)}"
            continue
        answer = f"results/{key}.json" if expected.startswith("pages:") else f"results/{key}.error.json"
        assert written == {answer: 1}, f"{key}: {dict(written)}"
        body = json.loads(s3.get_object(Bucket=aws["out"], Key=answer)["Body"].read())
        if expected.startswith("pages:"):
            assert len(body["pages"]) == int(expected.split(":")[1]), key
        else:
            assert expected in body["error"], f"{key}: {body['error']}"
    assert sqs.receive_message(QueueUrl=aws["dlq"], MaxNumberOfMessages=10).get("Messages", []) == []
    assert queue_empty(aws)

    processed = collections.Counter()
    for path in logs:
        for line in open(path):
            if line.startswith("{") and (entry := json.loads(line))["message"] == "processing":
                processed[(entry["key"], entry.get("pages"))] += 1
    redone = sorted(f"{key} {pages or ''}".strip() for (key, pages), n in processed.items() if n > 1)
    redone_parts = sum(n - 1 for (key, pages), n in processed.items() if pages)
    print(f"\nchaos: {dict(kills)} ({kills_mid_document} in the middle of a document, {killed_parts} of a part) "
          f"across {len(logs)} worker processes; {len(redone)} documents or parts redone (started more than "
          f"once): {redone}")
    assert sum(kills.values()) == KILLS and kills_mid_document >= KILLS // 2
    # A kill costs at most the part it hit: no other part of a long document is read again.
    assert redone_parts <= killed_parts, (redone_parts, killed_parts)
    assert sum(1 for (key, pages) in processed if key.startswith("incoming/long/") and pages) == \
        PARTS


def answered(aws, docs):
    """How many documents that still exist have their result or error result."""
    listing = aws["s3"].list_objects_v2(Bucket=aws["out"], Prefix="results/").get("Contents", [])
    keys = {item["Key"] for item in listing}
    return sum(f"results/{key}.json" in keys or f"results/{key}.error.json" in keys
               for key, (_, expected) in docs.items() if expected is not None)


def parts_written(aws):
    listing = aws["s3"].list_objects_v2(Bucket=aws["out"], Prefix="results/.parts/").get("Contents", [])
    return sum(bool(re.search(r"/\d{5}-\d{5}(\.error)?\.json$", item["Key"])) for item in listing)


def splits_done(aws):
    """Long documents whose split has queued every part (progress.json is written last)."""
    listing = aws["s3"].list_objects_v2(Bucket=aws["out"], Prefix="results/.parts/").get("Contents", [])
    return [item["Key"] for item in listing if item["Key"].endswith("/progress.json")]


def share(k, docs):
    """Work done (documents answered and parts written) before kill ``k``: the kills spread over
    all but the last ten."""
    return k * (len(docs) + PARTS - 10) // KILLS


def choose_victim(workers, killed_in, rng, any_worker):
    """A worker to kill and the document it is reading (None if idle): a busy one (looking every
    50 ms for up to BUSY_WAIT s, as a page takes well under a second), unless ``any_worker`` or
    none gets busy in time; idle or loading its models, but started. Never one on a document already killed KILLS_PER_DOCUMENT times;
    (None, None) if every worker is on such a document or already signalled (not yet replaced)."""
    deadline = time.monotonic() + (0 if any_worker else BUSY_WAIT)
    while True:
        # Not one whose program has not logged yet: a SIGTERM before Python runs the worker's
        # first lines (interpreter start, imports) kills it as the default action does (-15).
        reading = {i: current_key(proc.log_path) for i, proc in enumerate(workers)
                   if not proc.signalled and started(proc.log_path)}
        allowed = [i for i, key in reading.items() if not key or killed_in[key] < KILLS_PER_DOCUMENT]
        busy = [i for i in allowed if reading[i]]
        if busy and not any_worker:
            victim = rng.choice(busy)
            return victim, reading[victim]
        if time.monotonic() >= deadline:
            if not allowed:
                return None, None
            victim = rng.choice(allowed)
            return victim, reading[victim]
        time.sleep(0.05)


def started(log_path):
    return any(line.startswith("{") for line in open(log_path))


def current_key(log_path):
    """(key, part or None) of the document the worker is reading (its last log line says
    "processing"), or None."""
    lines = [line for line in open(log_path) if line.startswith("{") and line.endswith("\n")]
    last = json.loads(lines[-1]) if lines else {}
    return (last["key"], last.get("pages")) if last.get("message") == "processing" else None
