"""The ``paddleocr-efs`` console script: argument parsing, AWS clients, one-line errors.

Exit codes: 0 done; 1 AWS or terraform failed; 2 a usage or setup mistake; 3 a document was
refused (its error result is printed); 4 no result yet, or none before ``--timeout``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Optional, Sequence

from constructs_lib.operate.deployment import REFUSED, USAGE, Deployment, OperatorError, load

#: Where the stacks are synthesized; PADDLEOCR_EFS_STACKS or --stacks names another folder.
DEFAULT_STACKS = "cdktf.out/stacks"
CLIENTS = ("s3", "sqs", "ecs", "efs", "application-autoscaling")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="paddleocr-efs", description=(
        "Operate a deployed PaddleOCR service: its names come from the stacks' Terraform outputs."))
    top.add_argument("--stacks", type=Path, default=Path(os.environ.get("PADDLEOCR_EFS_STACKS", DEFAULT_STACKS)),
                     help=f"the synthesized stacks (default: $PADDLEOCR_EFS_STACKS or {DEFAULT_STACKS})")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    submit = commands.add_parser("submit", help="upload documents to the input prefix")
    submit.add_argument("files", nargs="+", type=Path, metavar="FILE")
    submit.add_argument("--key", help="the input key (one FILE only; default: <input_prefix><file name>)")
    submit.add_argument("--wait", action="store_true", help="wait for each result and print it")
    submit.add_argument("--timeout", type=float, default=3600, help="seconds --wait waits per file (default 3600)")
    submit.add_argument("--text", action="store_true", help="print the text, not the result JSON")
    result = commands.add_parser("result", help="print the result (or error result) of an input key")
    result.add_argument("key", metavar="KEY", help="the input key, e.g. incoming/invoice.pdf")
    result.add_argument("--text", action="store_true", help="print the text, not the result JSON")
    status = commands.add_parser("status", help="queues, tasks, model cache, last failures")
    status.add_argument("--json", action="store_true", help="print JSON")
    redrive = commands.add_parser("redrive", help="move the dead-letter queue back, failure counts reset")
    redrive.add_argument("--max", type=int, help="move at most this many")
    commands.add_parser("pause", help="suspend scaling and stop the tasks (busy ones finish their document)")
    commands.add_parser("resume", help="lift the pause")
    return top


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parser().parse_args(argv)
    try:
        import boto3
        import botocore.exceptions
    except ImportError:
        print("paddleocr-efs: the operator command needs boto3: pip install 'paddleocr-efs[operate]'", file=sys.stderr)
        return USAGE
    try:
        if args.command == "submit" and args.key and len(args.files) > 1:
            raise OperatorError("--key names one input key: give one FILE with it", USAGE)
        if args.command == "submit" and not args.timeout > 0:
            raise OperatorError("--timeout must be more than 0 seconds", USAGE)
        if args.command == "redrive" and args.max is not None and args.max < 1:
            raise OperatorError("--max must be at least 1", USAGE)
        deployment = load(args.stacks)
        session = boto3.session.Session(region_name=deployment.region)
        clients = {name: session.client(name) for name in CLIENTS}
        return run(args, deployment, clients)
    except OperatorError as error:
        print(f"paddleocr-efs: {error}", file=sys.stderr)
        return error.code
    except botocore.exceptions.ClientError as error:
        info = error.response.get("Error", {})
        print(f"paddleocr-efs: AWS refused {error.operation_name}: {info.get('Code')}: {info.get('Message', '')}",
              file=sys.stderr)
        return 1
    except botocore.exceptions.BotoCoreError as error:
        print(f"paddleocr-efs: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def run(args: argparse.Namespace, deployment: Deployment, clients: dict) -> int:
    from constructs_lib.operate import documents, queues, service, status

    s3 = clients["s3"]
    if args.command == "submit":
        code = 0
        for path in args.files:
            upload = documents.submit(s3, deployment, path, args.key)
            print(f"submitted s3://{deployment.input_bucket}/{upload.key} (version {upload.version or '-'})",
                  file=sys.stderr)
            if args.wait:
                code = max(code, _show(documents.wait(s3, deployment, upload, args.timeout), args.text))
        return code
    if args.command == "result":
        upload = documents.current(s3, deployment, args.key)
        found = documents.result(s3, deployment, upload)
        if found is None:
            state = documents.describe_progress(documents.progress(s3, deployment, upload))
            raise OperatorError(f"{args.key}: no result yet for its current version ({state})", documents.NOT_YET)
        return _show(found, args.text)
    if args.command == "status":
        gathered = status.gather(clients, deployment)
        print(json.dumps(gathered, indent=2) if args.json else status.render(gathered))
        return 0
    if args.command == "redrive":
        moved = queues.redrive(clients["sqs"], deployment, args.max)
        print(f"moved {moved} message{'s' if moved != 1 else ''} from the dead-letter queue to the job queue, "
              "failure counts reset")
        return 0
    if args.command == "pause":
        service.pause(clients["ecs"], clients["application-autoscaling"], deployment)
        print(f"paused {deployment.service_name}: scaling suspended, desired count 0; busy tasks finish their "
              "document first")
        return 0
    wanted = service.resume(clients["ecs"], clients["application-autoscaling"], clients["sqs"], deployment)
    print(f"resumed {deployment.service_name}: scaling on, desired count {wanted}"
          + ("" if wanted else " until work comes"))
    return 0


def _show(found, text: bool) -> int:
    """Print a result (or its error) to stdout; REFUSED when it is an error result."""
    if found.refused:
        print(f"paddleocr-efs: {found.key}: {found.body['error']}", file=sys.stderr)
        print(json.dumps(found.body, ensure_ascii=False, indent=None if text else 2))
        return REFUSED
    if text:
        print("\n\f".join("\n".join(line["text"] for line in page["lines"]) for page in found.body["pages"]))
    else:
        print(json.dumps(found.body, ensure_ascii=False, indent=2))
    return 0
