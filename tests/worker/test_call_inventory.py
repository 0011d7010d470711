"""Every AWS call the worker made while the worker tiers ran, judged against the synthesized
grants by AWS's rules (tests/iam), where moto's enforcement is silent: the 403-instead-of-404
rule, versioned reads, conditional writes, resource policies' Deny, conditions, and the calls
the ECS agent makes for the task.

Runs after every other test (the ``inventory`` marker; tests/conftest.py), on the default synth
and each variant of tests/iam/variants.py. A call without a matching grant fails the test with
one line naming the call and the action it lacks.
"""

import os
from pathlib import Path

import pytest

from tests.iam.calls import CALL_LOG_ENV, NotInDeployment, denials, recorded, requests_for
from tests.iam.render import Deployment
from tests.iam.variants import VARIANTS
from tests.synth import load_stack, settings, synth_app

pytestmark = [pytest.mark.inventory, pytest.mark.moto, pytest.mark.ocr, pytest.mark.slow]


@pytest.fixture(scope="module")
def calls():
    found = recorded(Path(os.environ[CALL_LOG_ENV]))
    commands = {c.command for c in found}
    # Both commands, and the calls of each path: reads (versioned and not), result HEADs and
    # conditional writes, the queue's receive, lease, delete, requeue and dead-letter.
    assert {"warm", "worker"} <= commands, (
        f"recorded calls from {sorted(commands) or 'no process'}: run this with the worker tiers (make test)")
    operations = {(c.service, c.operation) for c in found}
    assert {("s3", "HeadObject"), ("s3", "GetObject"), ("s3", "PutObject"), ("sqs", "ReceiveMessage"),
            ("sqs", "DeleteMessage"), ("sqs", "SendMessage")} <= operations, sorted(operations)
    assert any(c.params.get("VersionId") for c in found) and any(c.params.get("IfMatch") for c in found
                                                                   if c.operation == "PutObject")
    return found


@pytest.fixture(scope="module", params=sorted(VARIANTS))
def deployment(request, tmp_path_factory):
    stacks = synth_app(tmp_path_factory.mktemp(request.param), settings(**VARIANTS[request.param]))
    return Deployment(load_stack(stacks, "service")), Deployment(load_stack(stacks, "model-cache"))


def test_every_recorded_worker_call_is_allowed_to_the_task_role(calls, deployment):
    service, model_cache = deployment
    policies = [*service.resource_policies().values(), *model_cache.resource_policies().values()]
    denied = {}
    for call in calls:
        try:
            requests = requests_for(call, service)
        except NotInDeployment:  # e.g. reads of an s3:// model source, where the variant has none
            continue
        for line in denials(requests, service, "roles/task-role", policies):
            # One line per kind of call and missing action, with its first example.
            kind = (call.command, call.service, call.operation, tuple(sorted(call.params)), line.split(": needs ")[1].split()[0])
            denied.setdefault(kind, line)
    assert not denied, "\n".join(sorted(denied.values()))
