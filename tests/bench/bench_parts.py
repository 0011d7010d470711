#!/usr/bin/env python
"""Long documents: wall time for one PDF of real pages (the Spanish manuals' dense prose pages,
cycled) from upload to merged result, read by one worker start to finish (a part size over its
page count) against 1, 2 and 3 workers in parts of the deployed 20 pages.

Each worker stands for a task. A task has its own vCPUs and this machine has 2, so every worker
is pinned to one CPU of its own (1 inference thread) while there are CPUs to give; a third worker
shares them (said so in the output). Real worker processes, a local moto server (S3 and SQS),
the default tier's real weights (tests/model_mirror.py). Configurations alternate, in rotating
order, for ``runs`` rounds; medians are printed.

Usage: python tests/bench/bench_parts.py [pages, default 300] [runs, default 1] [dpi, default 100]
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import boto3  # noqa: E402

from tests.e2e.harness import free_port, wait_for_port  # noqa: E402
from tests.model_mirror import build_mirror  # noqa: E402
from tests.worker.large import real_pages_pdf  # noqa: E402

#: (label, workers, pages per part; None: the deployed default; 3000, the most, reads it whole)
CONFIGS = [("1 worker, whole document", 1, 3000), ("1 worker, parts of 20", 1, None),
           ("2 workers, parts of 20", 2, None), ("3 workers, parts of 20", 3, None)]


def main() -> None:
    pages = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    dpi = sys.argv[3] if len(sys.argv) > 3 else "100"
    cpus = sorted(os.sched_getaffinity(0))
    work = Path(tempfile.mkdtemp(prefix="bench-parts-"))
    mirror = work / "mirror"
    build_mirror(mirror, "tiny")
    cache = work / "cache"
    base = {**os.environ, "PADDLE_PDX_CACHE_HOME": str(cache), "OCR_MODEL_LOCK": str(mirror / "models.lock.json"),
            "OCR_MODEL_SOURCE": f"file://{mirror}"}
    subprocess.run([sys.executable, "-m", "ocr_worker", "warm"], env=base, check=True, stdout=subprocess.DEVNULL)
    document = real_pages_pdf(work / "long.pdf", pages).read_bytes()
    port = free_port()
    moto = subprocess.Popen([str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port)
    endpoint = f"http://127.0.0.1:{port}"
    aws = {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
           "AWS_DEFAULT_REGION": "us-east-1"}
    os.environ.update(aws)
    s3, sqs = boto3.client("s3"), boto3.client("sqs")
    times: dict[str, list[float]] = {label: [] for label, _, _ in CONFIGS}
    try:
        for run in range(runs):
            order = CONFIGS[run % len(CONFIGS):] + CONFIGS[:run % len(CONFIGS)]
            for label, workers, per_part in order:
                seconds = one_run(s3, sqs, {**base, **aws, "OCR_PDF_DPI": dpi}, document, workers, per_part,
                                  cpus, f"r{run}-{workers}-{per_part}")
                times[label].append(seconds)
                print(f"  {label}: {seconds:.1f} s", flush=True)
    finally:
        moto.terminate()
    print(f"\n{pages}-page PDF of real pages at {dpi} dpi, default tier, {runs} run(s); machine: "
          f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    whole = statistics.median(times[CONFIGS[0][0]])
    print("| workers | CPUs | wall time (median) | pages/s | vs one worker start to finish |")
    print("| --- | --- | --- | --- | --- |")
    for label, workers, _ in CONFIGS:
        median = statistics.median(times[label])
        given = "1 each" if workers <= len(cpus) else f"{len(cpus)} shared"
        print(f"| {label} | {given} | {median:.1f} s | {pages / median:.2f} | {whole / median:.2f}x |")


def one_run(s3, sqs, env, document: bytes, workers: int, per_part, cpus, name: str) -> float:
    bucket_in, bucket_out = f"in-{name}".lower(), f"out-{name}".lower()
    for bucket in (bucket_in, bucket_out):
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    queue = sqs.create_queue(QueueName=f"jobs-{name}")["QueueUrl"]
    env = {**env, "OCR_QUEUE_URL": queue, "OCR_OUTPUT_BUCKET": bucket_out, "OCR_WAIT_SECONDS": "1",
           **({"OCR_PAGES_PER_PART": str(per_part)} if per_part else {})}
    procs = []
    for i in range(workers):
        cpu = {cpus[i]} if workers <= len(cpus) else set(cpus)
        procs.append(subprocess.Popen([sys.executable, "-m", "ocr_worker", "worker"], env=env,
                                      stdout=open(Path(env["PADDLE_PDX_CACHE_HOME"]).parent / f"{name}-{i}.log", "w"), stderr=subprocess.STDOUT,
                                      preexec_fn=lambda cpu=cpu: os.sched_setaffinity(0, cpu)))
    try:
        time.sleep(8)  # the workers load their models before the clock starts, as running tasks have
        start = time.perf_counter()
        put = s3.put_object(Bucket=bucket_in, Key="incoming/long.pdf", Body=document)
        sqs.send_message(QueueUrl=queue, MessageBody=json.dumps({"Records": [{
            "eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": bucket_in}, "object": {
                "key": "incoming/long.pdf", "eTag": put["ETag"].strip('"'), "versionId": put["VersionId"]}}}]}))
        while True:
            try:
                s3.head_object(Bucket=bucket_out, Key="results/incoming/long.pdf.json")
                return time.perf_counter() - start
            except s3.exceptions.ClientError:
                assert all(p.poll() is None for p in procs), "a worker died"
                time.sleep(0.5)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=150)


if __name__ == "__main__":
    main()
