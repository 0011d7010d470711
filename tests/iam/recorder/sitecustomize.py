"""Test instrumentation: record every AWS call this process makes (tests/iam/calls.py).

On PYTHONPATH of worker processes under test only (``calls.recorder_env``). Each botocore
session gets a ``provide-client-params`` handler, which sees every operation with the parameters
the caller gave, including the ones s3transfer's ``download_file`` makes. One JSON line a call,
into ``$PADDLEOCR_EFS_AWS_CALLS/<pid>.jsonl``: the operation, the parameters that change how AWS
authorizes it, which command made it, and the process's settings that say whose bucket or queue
it is.
"""

import json
import os
import sys

FOLDER = os.environ.get("PADDLEOCR_EFS_AWS_CALLS")
#: Parameters that change the IAM action or the resource a call is authorized against.
AUTHORIZING = ("Bucket", "Key", "VersionId", "IfMatch", "IfNoneMatch", "QueueUrl")
SETTINGS = ("OCR_QUEUE_URL", "OCR_DLQ_URL", "OCR_OUTPUT_BUCKET", "OCR_MODEL_SOURCE")


def _command() -> str:
    args = [a for a in sys.argv[1:] if not a.startswith("-")]
    return args[0] if args else os.path.basename(sys.argv[0])


def _record(params, model, **_):
    entry = {"service": model.service_model.endpoint_prefix, "operation": model.name,
             "params": {k: params[k] for k in AUTHORIZING if params.get(k) is not None},
             "command": _command(), "settings": {k: os.environ.get(k, "") for k in SETTINGS}}
    with open(os.path.join(FOLDER, f"{os.getpid()}.jsonl"), "a") as log:
        log.write(json.dumps(entry, sort_keys=True) + "\n")


if FOLDER:
    import botocore.session

    _init = botocore.session.Session.__init__

    def _init_and_record(self, *args, **kwargs):
        _init(self, *args, **kwargs)
        self.register("provide-client-params", _record)

    botocore.session.Session.__init__ = _init_and_record
