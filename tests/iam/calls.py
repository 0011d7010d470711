"""AWS calls, and the IAM actions and resources AWS authorizes each with.

Two sources of calls:

- **Recorded** (:func:`recorded`): every botocore call a ``warm`` or ``worker`` process made while
  the worker tiers ran (``recorder/sitecustomize.py``), with the parameters that change how it is
  authorized and the process's own settings (which bucket is its output, which queue is which).
- **Made for the task by the ECS agent** (:func:`agent_calls`): image pull and log streams with the
  execution role, the EFS mount, scale-in protection and ECS Exec with the task role, read from
  the synthesized task definition and service.

:func:`requests_for` turns a recorded call into the authorization requests AWS makes of it, for a
given deployment, following each API reference's "Permissions" section.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from constructs_lib.image_repository import ecr_repository_arn
from tests.iam.evaluate import Request, evaluate
from tests.iam.render import Deployment

#: Where worker processes under test write what they call (set by tests/conftest.py).
CALL_LOG_ENV = "PADDLEOCR_EFS_AWS_CALLS"
RECORDER = Path(__file__).with_name("recorder")
TASK_ID = "0123456789abcdef0123456789abcdef"
#: Input keys the tests use; the notification's filter_prefix gives the worker only such keys.
INPUT_PREFIX = "incoming/"


@dataclass(frozen=True)
class Call:
    service: str
    operation: str
    params: dict
    #: ``warm`` or ``worker``: which command made the call.
    command: str
    #: The process's OCR_* settings: which bucket and queues are whose.
    settings: dict = field(default_factory=dict)

    def __str__(self) -> str:
        shown = ", ".join(f"{k}={v}" for k, v in sorted(self.params.items()))
        return f"{self.command}: {self.service} {self.operation}({shown})"


def recorder_env(folder: Path) -> dict:
    """What a process's environment needs for its calls to be recorded into ``folder``."""
    path = os.pathsep.join(p for p in (str(RECORDER), os.environ.get("PYTHONPATH", "")) if p)
    return {"PYTHONPATH": path, CALL_LOG_ENV: str(folder)}


def recorded(folder: Path) -> list[Call]:
    """Every distinct recorded call."""
    calls = set()
    for path in sorted(Path(folder).glob("*.jsonl")):
        for line in path.read_text().splitlines():
            entry = json.loads(line)
            calls.add(json.dumps(entry, sort_keys=True))
    return [Call(**json.loads(c)) for c in sorted(calls)]


def _source(settings: dict) -> Optional[tuple[str, str]]:
    source = settings.get("OCR_MODEL_SOURCE", "")
    if not source.startswith("s3://"):
        return None
    bucket, _, prefix = source.removeprefix("s3://").partition("/")
    return bucket, prefix.strip("/")


class NotInDeployment(Exception):
    """The call is not one this deployment makes (e.g. a model-source read without an s3:// source)."""


def _s3_object(call: Call, deployment: Deployment) -> tuple[str, str]:
    """(bucket, key) of the call in ``deployment``: its output bucket, its model source, or its input."""
    bucket, key = call.params["Bucket"], call.params["Key"]
    recorded_source = _source(call.settings)
    if bucket == call.settings.get("OCR_OUTPUT_BUCKET"):
        return deployment.output_bucket, key
    if recorded_source and bucket == recorded_source[0]:
        source = _source({"OCR_MODEL_SOURCE": deployment.model_source})
        if source is None:
            raise NotInDeployment(str(call))
        archive = key.removeprefix(recorded_source[1] + "/") if recorded_source[1] else key
        return source[0], f"{source[1]}/{archive}" if source[1] else archive
    if not key.startswith(INPUT_PREFIX):
        raise ValueError(f"{call}: an input key outside {INPUT_PREFIX!r}; the tests must use the deployment's prefix")
    return deployment.input_bucket, key


def requests_for(call: Call, deployment: Deployment) -> list[Request]:
    """The authorization requests AWS makes of ``call`` in ``deployment``. Raises
    NotInDeployment for a call this deployment never makes, and ValueError for an operation this
    mapping does not know, so that a new kind of call cannot pass unexamined."""
    p, op, label = call.params, call.operation, str(call)
    if call.service == "s3" and op == "ListObjectsV2":
        # ListObjectsV2, "Permissions": s3:ListBucket on the bucket (the worker lists the part
        # records of a long document under its output prefix).
        if p["Bucket"] != call.settings.get("OCR_OUTPUT_BUCKET"):
            raise ValueError(f"{call}: the worker lists only its output bucket")
        return [Request("s3:ListBucket", deployment.s3_arn(deployment.output_bucket), call=label)]
    if call.service == "s3":
        bucket, key = _s3_object(call, deployment)
        objects = deployment.s3_arn(bucket, key)
        if op in ("HeadObject", "GetObject"):
            # GetObject / HeadObject, "Permissions": a request with versionId is s3:GetObjectVersion.
            # If-Match on a read needs nothing more.
            requests = [Request("s3:GetObjectVersion" if p.get("VersionId") else "s3:GetObject", objects, call=label)]
            # "If the object you request doesn't exist, the error that Amazon S3 returns depends
            # on whether you also have the s3:ListBucket permission": the worker tells a missing
            # document or result (404) from an outage (403), so it needs 404s. warm does not: a
            # missing archive and a refused one are both "source unreachable", exit 12.
            if call.command == "worker":
                requests.append(Request("s3:ListBucket", deployment.s3_arn(bucket), call=label))
            return requests
        if op == "PutObject":
            # "Conditional writes": If-None-Match needs s3:PutObject; If-Match needs s3:PutObject
            # and s3:GetObject.
            requests = [Request("s3:PutObject", objects, call=label)]
            if p.get("IfMatch"):
                requests.append(Request("s3:GetObject", objects, call=label))
            return requests
        raise ValueError(f"{call}: no IAM mapping for s3 {op}; add one from its API reference")
    if call.service == "sqs":
        # Each SQS action is authorized as sqs:<Action> on the queue ("Amazon SQS API permissions:
        # Actions and resource reference").
        if op not in ("ReceiveMessage", "DeleteMessage", "ChangeMessageVisibility", "SendMessage"):
            raise ValueError(f"{call}: no IAM mapping for sqs {op}")
        url = p["QueueUrl"]
        name = {call.settings.get("OCR_QUEUE_URL"): deployment.queue,
                call.settings.get("OCR_DLQ_URL"): deployment.dlq}.get(url)
        if name is None:
            raise ValueError(f"{call}: {url} is neither the jobs queue nor the DLQ of the process")
        return [Request(f"sqs:{op}", deployment.queue_arn(name), call=label)]
    raise ValueError(f"{call}: no IAM mapping for the {call.service} service")


def agent_calls(deployment: Deployment) -> dict[str, list[Request]]:
    """What the ECS agent does for the task, from the synthesized task definition and service,
    by role: ``execution`` and ``task``."""
    task = deployment.task_definition()
    execution: list[Request] = []
    role: list[Request] = []
    for container in task["containers"]:
        name = container["name"]
        repository = ecr_repository_arn(container["image"])
        if repository:
            # "Amazon ECS task execution IAM role": the agent pulls a private ECR image with the
            # execution role: a token, then the image's layers.
            execution.append(Request("ecr:GetAuthorizationToken", "*", call=f"agent: pull {container['image']}"))
            execution += [Request(a, repository, call=f"agent: pull {container['image']}")
                          for a in ("ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer",
                                    "ecr:BatchGetImage")]
        options = container.get("logConfiguration", {}).get("options", {})
        if container.get("logConfiguration", {}).get("logDriver") == "awslogs":
            # "Using the awslogs log driver": a stream <prefix>/<container>/<task id> per container.
            stream = deployment.arn("logs", f"log-group:{options['awslogs-group']}:log-stream:"
                                            f"{options['awslogs-stream-prefix']}/{name}/{TASK_ID}",
                                    region=options["awslogs-region"])
            execution += [Request(a, stream, call=f"agent: {name} logs") for a in ("logs:CreateLogStream",
                                                                                   "logs:PutLogEvents")]
        for mount in container.get("mountPoints", []):
            volume = next((v for v in task["volumes"] if v["name"] == mount["sourceVolume"]), None)
            efs = (volume or {}).get("efs_volume_configuration")
            if not efs:
                continue
            authorization = efs.get("authorization_config", {})
            if authorization.get("iam") != "ENABLED":
                continue
            # "Using IAM to control file system data access": the mount is authorized as
            # ClientMount (and ClientWrite when writable) with the access point in the context.
            context = {"elasticfilesystem:AccessPointArn": [deployment.arn(
                "elasticfilesystem", f"access-point/{authorization['access_point_id']}")]}
            fs = deployment.arn("elasticfilesystem", f"file-system/{efs['file_system_id']}")
            actions = ["elasticfilesystem:ClientMount"] + ([] if mount["readOnly"] else ["elasticfilesystem:ClientWrite"])
            role += [Request(a, fs, context, call=f"agent: mount {mount['sourceVolume']} for {name}") for a in actions]
    # The worker PUTs the agent's task-protection endpoint; the agent calls UpdateTaskProtection
    # with the task role ("Amazon ECS task scale-in protection endpoint").
    role.append(Request("ecs:UpdateTaskProtection", deployment.arn("ecs", f"task/{deployment.cluster}/{TASK_ID}"),
                        call="agent: task scale-in protection"))
    if deployment.exec_enabled:
        # "Using Amazon ECS Exec": the SSM agent opens its channels with the task role.
        role += [Request(f"ssmmessages:{a}", "*", call="agent: ECS Exec") for a in
                 ("CreateControlChannel", "CreateDataChannel", "OpenControlChannel", "OpenDataChannel")]
    return {"execution": execution, "task": role}



def denials(requests: list[Request], deployment: Deployment, role_path: str, resource_policies: list[dict]):
    """One line per request the role at ``role_path`` may not make: the call and what it lacks."""
    identity = list(deployment.role_policies(role_path).values())
    principal = f"arn:{deployment.partition}:iam::{deployment.account}:role/{deployment.name_at(role_path)}"
    for request in requests:
        decision = evaluate(request, principal, identity, resource_policies)
        if not decision.allowed:
            yield f"{request.call}: needs {request.action} on {request.resource} ({decision.reason})"
