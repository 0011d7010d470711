"""The synthesized operator policy allows every call ``paddleocr-efs`` makes, by AWS's rules, and
holds no statement that no call needs.

Every command runs against moto with each botocore call recorded; each call becomes the
authorization requests AWS makes of it (its API reference's "Permissions" section and the
Service Authorization Reference), against the synthesized stack's names, and tests/iam/evaluate.py
judges them with the stack's resource policies (their TLS-only Deny included). moto's own
enforcement cannot do this: it authorizes ECS, Application Auto Scaling and EFS calls against
resource ``*`` and evaluates no ``ecs:cluster`` condition (tests/e2e/test_deploy.py runs the
command under the policy with what moto can check).
"""

from __future__ import annotations

import pytest

from constructs_lib.operate import cli
from tests.iam.evaluate import Request, evaluate
from tests.iam.render import Deployment as Rendered
from tests.operate.test_documents import write_result
from tests.synth import load_stack, settings, synth_app

pytestmark = pytest.mark.moto

PRINCIPAL = "arn:aws:iam::123456789012:role/operator"


@pytest.fixture(scope="module")
def stacks(tmp_path_factory):
    out = synth_app(tmp_path_factory.mktemp("operator"), settings())
    return Rendered(load_stack(out, "service")), Rendered(load_stack(out, "model-cache"))


def operator_policy(service: Rendered) -> dict:
    _, name, _ = service._named("operator/document")
    return service.policy_document(name)


def record(clients) -> list[tuple[str, str, dict]]:
    calls: list[tuple[str, str, dict]] = []
    for client in clients.values():
        client.meta.events.register("before-parameter-build", lambda model, params, **_: calls.append(
            (model.service_model.endpoint_prefix, model.name, params)))
    return calls


def prepare(clients, deployment, tmp_path):
    """What the worker and ECS would have left: a result, a dead letter, a stopped task."""
    from constructs_lib.operate import documents

    path = tmp_path / "scan.pdf"
    path.write_bytes(b"%PDF-1.4 test")
    upload = documents.submit(clients["s3"], deployment, path)
    write_result(clients, deployment, upload, {"pages": [{"lines": [{"text": "done"}]}], "seconds": 1.0})
    clients["sqs"].send_message(QueueUrl=deployment.dlq_url, MessageBody="{}",
                                MessageAttributes={"ocr-failures": {"DataType": "Number", "StringValue": "3"}})
    ecs, where = clients["ecs"], {"cluster": deployment.cluster_name}
    definition = ecs.describe_services(**where, services=[deployment.service_name])["services"][0]["taskDefinition"]
    ec2 = clients["ec2"]
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    network = {"subnets": [ec2.create_subnet(VpcId=vpc, CidrBlock="10.1.1.0/24")["Subnet"]["SubnetId"]],
               "securityGroups": [ec2.create_security_group(GroupName="task", Description="task", VpcId=vpc)["GroupId"]]}
    task = ecs.run_task(**where, taskDefinition=definition, startedBy=f"ecs-svc/{deployment.service_name}",
                        launchType="FARGATE", networkConfiguration={"awsvpcConfiguration": network})
    ecs.stop_task(**where, task=task["tasks"][0]["taskArn"])
    return path


def run_every_command(clients, deployment, path):
    """submit, result (read, not read yet, never uploaded), status, redrive, pause, resume."""
    def command(*argv):
        return cli.run(cli.parser().parse_args(list(argv)), deployment, clients)

    assert command("submit", str(path), "--key", "incoming/other.pdf") == 0
    assert command("result", "incoming/scan.pdf") == 0
    with pytest.raises(cli.OperatorError, match="no result yet"):  # its progress is looked up too
        command("result", "incoming/other.pdf")
    with pytest.raises(cli.OperatorError, match="no such input document"):
        command("result", "incoming/never-uploaded.pdf")
    for argv in (["status"], ["redrive"], ["pause"], ["resume"]):
        assert command(*argv) == 0, argv


def requests_for(call: tuple[str, str, dict], deployment, rendered: Rendered) -> list[Request]:
    """What AWS authorizes ``call`` of the moto ``deployment`` as, in the ``rendered`` stack."""
    service, operation, p = call
    bucket = {deployment.input_bucket: rendered.input_bucket, deployment.output_bucket: rendered.output_bucket}
    queue = {deployment.queue_url: rendered.queue, deployment.dlq_url: rendered.dlq}
    cluster = rendered.arn("ecs", f"cluster/{rendered.cluster}")
    if service == "s3":
        name = bucket[p["Bucket"]]
        if operation == "ListObjectsV2":  # ListObjectsV2, "Permissions"
            return [Request("s3:ListBucket", rendered.s3_arn(name))]
        objects = rendered.s3_arn(name, p["Key"])
        if operation == "PutObject":
            return [Request("s3:PutObject", objects)]
        if operation in ("HeadObject", "GetObject"):
            # GetObject / HeadObject, "Permissions": without s3:ListBucket a missing key is 403, and
            # the command tells "not yet" and "no such document" (404) from a refusal.
            action = "s3:GetObjectVersion" if p.get("VersionId") else "s3:GetObject"
            return [Request(action, objects), Request("s3:ListBucket", rendered.s3_arn(name))]
    if service == "sqs" and operation in ("GetQueueAttributes", "ReceiveMessage", "SendMessageBatch",
                                          "DeleteMessageBatch", "SendMessage", "DeleteMessage"):
        # Amazon SQS API Reference, "Permissions": a batch call is authorized as its single action.
        return [Request(f"sqs:{operation.removesuffix('Batch')}", rendered.queue_arn(queue[p["QueueUrl"]]))]
    if service == "ecs":
        if operation in ("DescribeServices", "UpdateService"):
            [name] = p.get("services", [p.get("service")])
            assert name == deployment.service_name
            return [Request(f"ecs:{operation}", rendered.arn("ecs", f"service/{rendered.cluster}/"
                                                                    f"{rendered.name_at('ocr/service')}"))]
        if operation == "ListTasks":  # Service Authorization Reference, Amazon ECS: condition key ecs:cluster
            return [Request("ecs:ListTasks", "*", {"ecs:cluster": [cluster]})]
        if operation == "DescribeTasks":
            return [Request("ecs:DescribeTasks", rendered.arn("ecs", f"task/{rendered.cluster}/{arn.rsplit('/', 1)[-1]}"),
                            {"ecs:cluster": [cluster]}) for arn in p["tasks"]]
    if service == "application-autoscaling":
        if operation == "DescribeScalableTargets":  # no resource types: "*"
            return [Request("application-autoscaling:DescribeScalableTargets", "*")]
        if operation == "RegisterScalableTarget":
            assert p["ResourceId"] == f"service/{deployment.cluster_name}/{deployment.service_name}"
            return [Request("application-autoscaling:RegisterScalableTarget", rendered.scalable_target_arn)]
    if service == "elasticfilesystem" and operation in ("DescribeFileSystems", "DescribeMountTargets"):
        return [Request(f"elasticfilesystem:{operation}", rendered.file_system_arn)]
    raise ValueError(f"{service} {operation}: no IAM mapping; add one from its API reference's Permissions")


def test_the_operator_policy_allows_every_call_of_every_command_and_nothing_more(clients, deployment, stacks,
                                                                                 tmp_path):
    path = prepare(clients, deployment, tmp_path)
    calls = record(clients)
    run_every_command(clients, deployment, path)
    service, model_cache = stacks
    policy = operator_policy(service)
    resource_policies = [*service.resource_policies().values(), *model_cache.resource_policies().values()]
    operations = {(s, o) for s, o, _ in calls}
    assert {("s3", "PutObject"), ("s3", "HeadObject"), ("s3", "GetObject"), ("s3", "ListObjectsV2"),
            ("sqs", "ReceiveMessage"), ("sqs", "SendMessageBatch"), ("sqs", "DeleteMessageBatch"),
            ("ecs", "UpdateService"), ("ecs", "ListTasks"), ("ecs", "DescribeTasks"),
            ("application-autoscaling", "RegisterScalableTarget"),
            ("elasticfilesystem", "DescribeMountTargets")} <= operations, sorted(operations)
    denied, used = set(), set()
    for call in calls:
        for request in requests_for(call, deployment, service):
            decision = evaluate(request, PRINCIPAL, [policy], resource_policies)
            if decision.allowed:
                used.add(decision.reason.removeprefix("allowed by "))
            else:
                denied.add(f"{call[0]} {call[1]}: needs {request.action} on {request.resource} ({decision.reason})")
    assert not denied, "\n".join(sorted(denied))
    assert used == {st["Sid"] for st in policy["Statement"]}, "statements no call needs"
