"""Deploy every stack against a real moto server, check what AWS holds, plan again under both
frameworks (no changes), race the state lock, and destroy everything.

The first stacks are deployed with cdktf's CLI and the later ones with CDK Terrain's (`npx cdktn
deploy`, on .venv-cdktn), reading each other's remote state; then each framework synthesizes all
stacks and plans them empty, and cdktf's CLI destroys them: state moves freely between the two.

The stacks run on the S3 backend in moto with S3-native locking, so every cross-stack reference
goes through terraform_remote_state. moto serves real TLS with a certificate made here, so the
TLS-only bucket and file system policies hold as they do on AWS.
"""

import json
import subprocess
import sys
import time

import boto3
import pytest

from tests.e2e.harness import MotoServer, project_copy, run
from tests.iam.moto import IamMoto
from tests.worker.conftest import worker_env
from tests.worker.docs import INVOICE, PAGE_TWO, encode, text_image
from tests.worker.test_queue_worker import queue_empty

pytestmark = [pytest.mark.e2e, pytest.mark.moto, pytest.mark.terraform, pytest.mark.slow]

STACKS = ["network", "model-cache", "service"]
#: Which CLI deploys each stack, and the Python that runs the app for it.
CLI = {"cdktf": ["npx", "cdktf"], "cdktn": ["npx", "cdktn", "--app", ".venv-cdktn/bin/python main.py"]}
DEPLOYED_WITH = {"bootstrap": "cdktf", "network": "cdktf", "model-cache": "cdktn", "service": "cdktn"}
IMAGE_URI = "127.0.0.1:5000/ocr-worker:e2e"


@pytest.fixture(scope="module")
def deployment(tmp_path_factory, terraform_env):
    folder = tmp_path_factory.mktemp("e2e")
    moto = MotoServer(folder)
    project = project_copy(folder / "project")
    config = folder / "e2e.json"
    config.write_text(json.dumps({"aws_endpoint": moto.endpoint, "backend": {"type": "s3", "bucket": "e2e-tfstate"},
                                  "image": {"build": False, "image_uri": IMAGE_URI}}))
    env = {**terraform_env, **moto.env(), "PADDLEOCR_EFS_CONFIG": str(config), "CI": "1"}
    env.pop("AWS_ENDPOINT_URL")  # terraform must take its endpoints from the config, not the environment
    clients = {name: boto3.client(name, endpoint_url=moto.endpoint, verify=str(moto.cert), region_name="us-east-1",
                                  aws_access_key_id="testing", aws_secret_access_key="testing")
               for name in ("efs", "ec2", "iam", "ecs", "sqs", "s3", "cloudwatch", "application-autoscaling", "events",
                            "sns")}
    # Offline, `providers lock` cannot reach the registry: the mirror's provider is used as is.
    for stack in ["bootstrap"] + STACKS:
        npx, cli, *app = CLI[DEPLOYED_WITH[stack]]
        run([npx, cli, "deploy", stack, *app, "--auto-approve", "--skip-provider-lock",
             "--ignore-missing-stack-dependencies"], project, env)
    yield {"project": project, "env": env, "aws": clients, "moto": moto}
    moto.stop()


def stack_dir(deployment, stack):
    return deployment["project"] / "cdktf.out" / "stacks" / stack


def test_file_system_mount_targets_and_access_point(deployment):
    efs = deployment["aws"]["efs"]
    [fs] = efs.describe_file_systems()["FileSystems"]
    assert fs["Encrypted"] and fs["ThroughputMode"] == "elastic" and fs["PerformanceMode"] == "generalPurpose"
    assert fs["Name"] == "sabuho-paddleocr-models"
    targets = efs.describe_mount_targets(FileSystemId=fs["FileSystemId"])["MountTargets"]
    assert len(targets) == 2 and len({t["SubnetId"] for t in targets}) == 2
    [ap] = efs.describe_access_points(FileSystemId=fs["FileSystemId"])["AccessPoints"]
    assert ap["PosixUser"] == {"Uid": 1000, "Gid": 1000}
    assert ap["RootDirectory"]["Path"] == "/paddleocr-models"
    assert ap["RootDirectory"]["CreationInfo"] == {"OwnerUid": 1000, "OwnerGid": 1000, "Permissions": "0755"}
    assert efs.describe_backup_policy(FileSystemId=fs["FileSystemId"])["BackupPolicy"]["Status"] == "ENABLED"


def test_file_system_policy(deployment):
    efs = deployment["aws"]["efs"]
    [fs] = efs.describe_file_systems()["FileSystems"]
    policy = json.loads(efs.describe_file_system_policy(FileSystemId=fs["FileSystemId"])["Policy"])
    sids = {s["Sid"]: s for s in policy["Statement"]}
    assert sids["DenyWithoutTls"]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert sids["DenyOutsideAccessPoint"]["Effect"] == "Deny"


def test_security_group_rules(deployment):
    ec2 = deployment["aws"]["ec2"]
    groups = {g["GroupName"]: g["GroupId"] for g in ec2.describe_security_groups()["SecurityGroups"]}
    tasks, efs = groups["sabuho-paddleocr-tasks"], groups["sabuho-paddleocr-models-efs"]
    rules = ec2.describe_security_group_rules()["SecurityGroupRules"]
    efs_in = [r for r in rules if r["GroupId"] == efs and not r["IsEgress"]]
    assert [(r["FromPort"], r["ReferencedGroupInfo"]["GroupId"], r.get("CidrIpv4")) for r in efs_in] == [(2049, tasks, None)]
    task_out = sorted((r["FromPort"], r.get("CidrIpv4") or r["ReferencedGroupInfo"]["GroupId"])
                      for r in rules if r["GroupId"] == tasks and r["IsEgress"])
    assert task_out == [(443, "0.0.0.0/0"), (2049, efs)]


def test_roles_and_policies(deployment):
    iam = deployment["aws"]["iam"]
    trust = iam.get_role(RoleName="sabuho-processor-task-role")["Role"]["AssumeRolePolicyDocument"]
    [st] = trust["Statement"]
    assert st["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}
    assert "aws:SourceAccount" in st["Condition"]["StringEquals"]
    names = set(iam.list_role_policies(RoleName="sabuho-processor-task-role")["PolicyNames"])
    assert names == {"model-cache-read-write", "documents-queue", "documents-read-input", "documents-results",
                     "task-protection"}
    efs_policy = iam.get_role_policy(RoleName="sabuho-processor-task-role", PolicyName="model-cache-read-write")
    [grant] = efs_policy["PolicyDocument"]["Statement"]
    assert sorted(grant["Action"]) == ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"]
    assert "elasticfilesystem:AccessPointArn" in grant["Condition"]["StringEquals"]
    assert iam.list_attached_role_policies(RoleName="sabuho-processor-execution-role")["AttachedPolicies"] == []
    names = set(iam.list_role_policies(RoleName="sabuho-processor-execution-role")["PolicyNames"])
    assert names == {"write-task-logs"}  # the image is outside ECR: nothing to grant for its pull


def test_task_definition_and_service(deployment):
    ecs = deployment["aws"]["ecs"]
    task = ecs.describe_task_definition(taskDefinition="sabuho-processor")["taskDefinition"]
    containers = {c["name"]: c for c in task["containerDefinitions"]}
    assert containers["ocr-worker"]["dependsOn"] == [{"containerName": "model-warmer", "condition": "SUCCESS"}]
    assert {m["containerPath"]: m["readOnly"] for m in containers["ocr-worker"]["mountPoints"]}[
        "/var/cache/paddlex"] is True
    assert all(c["image"] == IMAGE_URI and c["user"] == "1000:1000" for c in containers.values())
    volume = next(v for v in task["volumes"] if v["name"] == "model-cache")["efsVolumeConfiguration"]
    assert volume["transitEncryption"] == "ENABLED" and volume["authorizationConfig"]["iam"] == "ENABLED"
    [service] = ecs.describe_services(cluster="sabuho-cluster", services=["sabuho-processor-service"])["services"]
    assert service["status"] == "ACTIVE"
    assert [(s["capacityProvider"], s["weight"]) for s in service["capacityProviderStrategy"]] == [("FARGATE", 1)]
    assert "launchType" not in service
    [cluster] = ecs.describe_clusters(clusters=["sabuho-cluster"])["clusters"]
    assert sorted(cluster["capacityProviders"]) == ["FARGATE", "FARGATE_SPOT"]
    assert service["platformVersion"] == "1.4.0"


def test_queue_and_dlq(deployment):
    sqs = deployment["aws"]["sqs"]
    url = sqs.get_queue_url(QueueName="sabuho-paddleocr-jobs")["QueueUrl"]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert json.loads(attrs["RedrivePolicy"])["maxReceiveCount"] == 5  # crashes only; the worker counts failures
    assert attrs["SqsManagedSseEnabled"] == "true" and attrs["VisibilityTimeout"] == "120"
    dlq = sqs.get_queue_url(QueueName="sabuho-paddleocr-jobs-dlq")["QueueUrl"]
    for queue in (url, dlq):
        policy = json.loads(sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["Policy"])["Attributes"]["Policy"])
        assert any(st["Sid"] == "DenyWithoutTls" for st in policy["Statement"])


def test_alarms_dashboard_and_scaling(deployment):
    cloudwatch = deployment["aws"]["cloudwatch"]
    alarms = {a["AlarmName"] for a in cloudwatch.describe_alarms()["MetricAlarms"]}
    assert {"sabuho-paddleocr-dlq-not-empty", "sabuho-paddleocr-efs-io-limit", "sabuho-paddleocr-tasks-below-desired",
            "sabuho-processor-service-work-waiting-no-tasks"} <= alarms
    assert [d["DashboardName"] for d in cloudwatch.list_dashboards()["DashboardEntries"]] == ["sabuho-paddleocr"]
    events = deployment["aws"]["events"]
    [rule] = events.list_rules(NamePrefix="sabuho-paddleocr-task-failed")["Rules"]
    assert json.loads(rule["EventPattern"])["detail"]["lastStatus"] == ["STOPPED"]
    [target] = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
    topic = target["Arn"]
    sns = deployment["aws"]["sns"]
    attributes = sns.get_topic_attributes(TopicArn=topic)["Attributes"]
    assert attributes["KmsMasterKeyId"].startswith("arn:aws:kms:")  # the customer key, not alias/aws/sns
    assert "EventRulesPublish" in attributes["Policy"]
    scaling = deployment["aws"]["application-autoscaling"]
    [target] = scaling.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"]
    assert (target["MinCapacity"], target["MaxCapacity"]) == (0, 10)


def deployed_bucket(aws, prefix):
    [name] = [b["Name"] for b in aws["s3"].list_buckets()["Buckets"] if b["Name"].startswith(prefix)]
    return name


@pytest.mark.ocr
def test_the_worker_runs_as_the_deployed_task_role_with_iam_enforced(deployment, warm_cache, mirror):
    """The task role Terraform created from the synthesized JSON, assumed, with moto enforcing IAM:
    documents from the versioned input bucket through its own S3 notifications, and the missing,
    overwritten, deleted and duplicate cases. (moto enforces the role's policies and the bucket
    policies; tests/worker/test_call_inventory.py judges what moto does not.)"""
    aws, moto = deployment["aws"], deployment["moto"]
    iam = IamMoto(moto.endpoint, verify=str(moto.cert))
    role = "sabuho-processor-task-role"
    ecs_trust = aws["iam"].get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
    # moto enforces trust policies, and only ECS may assume through this one: for the test, the
    # administrator stands in for ECS (the real trust is put back below; tests/test_iam.py checks it).
    aws["iam"].update_assume_role_policy(RoleName=role, PolicyDocument=json.dumps(iam.admin_trust()))
    queue = aws["sqs"].get_queue_url(QueueName="sabuho-paddleocr-jobs")["QueueUrl"]
    dlq = aws["sqs"].get_queue_url(QueueName="sabuho-paddleocr-jobs-dlq")["QueueUrl"]
    inputs, outputs = deployed_bucket(aws, "sabuho-paddleocr-in-"), deployed_bucket(aws, "sabuho-paddleocr-out-")
    s3, sqs = iam.client("s3"), iam.client("sqs")
    role_arn = aws["iam"].get_role(RoleName=role)["Role"]["Arn"]
    iam.enforce()
    try:
        credentials = iam.assume(role_arn)
        s3.put_object(Bucket=inputs, Key="incoming/invoice.png", Body=encode(text_image(INVOICE), "PNG"))
        s3.put_object(Bucket=inputs, Key="incoming/twice.png", Body=encode(text_image(INVOICE), "PNG"))
        s3.put_object(Bucket=inputs, Key="incoming/twice.png", Body=encode(text_image(PAGE_TWO), "PNG"))
        s3.put_object(Bucket=inputs, Key="incoming/gone.png", Body=encode(text_image(INVOICE), "PNG"))
        s3.delete_object(Bucket=inputs, Key="incoming/gone.png")
        sqs.send_message(QueueUrl=queue, MessageBody=json.dumps({"bucket": inputs, "key": "incoming/never.png"}))
        events = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, VisibilityTimeout=0)["Messages"]
        first = next(m["Body"] for m in events if "invoice.png" in m["Body"])
        assert json.loads(first)["Records"][0]["s3"]["object"]["versionId"]
        sqs.send_message(QueueUrl=queue, MessageBody=first)  # a duplicate delivery
        env = worker_env(warm_cache, mirror / "models.lock.json", f"file://{mirror}", **{
            **credentials, "AWS_ENDPOINT_URL": moto.endpoint, "AWS_CA_BUNDLE": str(moto.cert),
            "AWS_DEFAULT_REGION": "us-east-1", "OCR_QUEUE_URL": queue, "OCR_DLQ_URL": dlq, "OCR_OUTPUT_BUCKET": outputs,
            "OCR_WAIT_SECONDS": "1", "OCR_RETRY_DELAY": "0"})
        worker = subprocess.Popen([sys.executable, "-m", "ocr_worker", "worker"], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True)
        try:
            deadline = time.monotonic() + 300
            while not all(_exists(s3, outputs, k) for k in ("results/incoming/invoice.png.json",
                                                           "results/incoming/twice.png.json",
                                                           "results/incoming/never.png.error.json")) or \
                    not queue_empty({"sqs": sqs, "queue": queue}):
                assert time.monotonic() < deadline and worker.poll() is None, "the worker did not finish"
                time.sleep(1)
        finally:
            worker.terminate()
            out = worker.communicate(timeout=120)[0]
        lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        result = json.loads(s3.get_object(Bucket=outputs, Key="results/incoming/invoice.png.json")["Body"].read())
        assert [line["text"] for page in result["pages"] for line in page["lines"]] == [INVOICE]
        current = s3.head_object(Bucket=inputs, Key="incoming/invoice.png")["VersionId"]
        assert result["source"]["version"] == current
        twice = json.loads(s3.get_object(Bucket=outputs, Key="results/incoming/twice.png.json")["Body"].read())
        assert [line["text"] for page in twice["pages"] for line in page["lines"]] == [PAGE_TWO]
        error = json.loads(s3.get_object(Bucket=outputs, Key="results/incoming/never.png.error.json")["Body"].read())
        assert error["error"] == "object not found"
        assert not _exists(s3, outputs, "results/incoming/gone.png.json")
        skipped = sorted((e["key"], e["message"]) for e in lines if e["message"].startswith("skipped"))
        assert skipped == [
            ("incoming/gone.png", "skipped: the object was deleted after its event"),
            ("incoming/invoice.png", "skipped: already processed"),
            ("incoming/twice.png", "skipped: the object was overwritten after its event; the new upload has its own")]
        assert "AccessDenied" not in out and "Forbidden" not in out, out[-3000:]
        assert sqs.receive_message(QueueUrl=dlq).get("Messages", []) == []
    finally:
        iam.enforce(False)
        aws["iam"].update_assume_role_policy(RoleName=role, PolicyDocument=json.dumps(ecs_trust))
        for bucket in (inputs, outputs):  # emptied, as a user must before destroy (no force_destroy)
            listing = aws["s3"].list_object_versions(Bucket=bucket)
            for version in listing.get("Versions", []) + listing.get("DeleteMarkers", []):
                aws["s3"].delete_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])


def _exists(s3, bucket, key):
    try:
        s3.head_object(Bucket=bucket, Key=key)
        return True
    except s3.exceptions.ClientError:
        return False


@pytest.mark.parametrize("framework", ["cdktn", "cdktf"])
def test_every_stack_converges_under_both_frameworks(deployment, framework):
    """Whichever CLI deployed a stack, the other framework's synth of it plans no change."""
    run([*CLI[framework][:2], "synth", *CLI[framework][2:]], deployment["project"], deployment["env"])
    for stack in ["bootstrap"] + STACKS:
        cwd = stack_dir(deployment, stack)
        run(["terraform", "init", "-input=false", "-no-color"], cwd, deployment["env"])
        result = run(["terraform", "plan", "-detailed-exitcode", "-input=false", "-no-color"], cwd, deployment["env"],
                     check=False)
        assert result.returncode == 0, f"{stack} plans changes under {framework}:\n{result.stdout[-4000:]}"


def test_turning_spot_on_updates_the_service_in_place(deployment, tmp_path):
    """The provider replaces a service whose capacity provider strategy goes from none to some;
    the service always has one, with force_new_deployment, so the toggle is an update."""
    config = json.loads(open(deployment["env"]["PADDLEOCR_EFS_CONFIG"]).read())
    spot = tmp_path / "spot.json"
    spot.write_text(json.dumps({**config, "service": {"spot": True}}))
    env = {**deployment["env"], "PADDLEOCR_EFS_CONFIG": str(spot), "CDKTF_OUTDIR": "cdktf.out.spot"}
    run([".venv/bin/python", "main.py"], deployment["project"], env)
    cwd = deployment["project"] / "cdktf.out.spot" / "stacks" / "service"
    run(["terraform", "init", "-input=false", "-no-color"], cwd, env)
    run(["terraform", "plan", "-input=false", "-no-color", "-out=spot.plan"], cwd, env)
    plan = json.loads(run(["terraform", "show", "-json", "spot.plan"], cwd, env).stdout)
    changes = {c["type"]: c["change"]["actions"] for c in plan["resource_changes"] if c["change"]["actions"] != ["no-op"]}
    assert changes == {"aws_ecs_service": ["update"]}, changes


def test_state_lock_refuses_a_second_concurrent_apply(deployment):
    cwd = stack_dir(deployment, "network")
    holder = subprocess.Popen(["terraform", "console"], cwd=cwd, env=deployment["env"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        s3 = deployment["aws"]["s3"]
        deadline = time.monotonic() + 60
        while "Contents" not in s3.list_objects_v2(Bucket="e2e-tfstate", Prefix="paddleocr-efs/sabuho/network.tfstate.tflock"):
            assert time.monotonic() < deadline and holder.poll() is None, "terraform console never took the lock"
            time.sleep(0.2)
        second = run(["terraform", "apply", "-auto-approve", "-input=false", "-no-color", "-lock-timeout=0s"], cwd,
                     deployment["env"], check=False)
        assert second.returncode != 0
        assert "Error acquiring the state lock" in second.stdout + second.stderr
    finally:
        holder.communicate("exit\n", timeout=60)


def test_destroy_in_reverse_order_leaves_nothing(deployment):
    destroy = ["npx", "cdktf", "destroy", "--auto-approve", "--ignore-missing-stack-dependencies"]
    for stack in reversed(STACKS):
        run(destroy[:3] + [stack] + destroy[3:], deployment["project"], deployment["env"])
    aws = deployment["aws"]
    assert aws["efs"].describe_file_systems()["FileSystems"] == []
    assert aws["efs"].describe_access_points()["AccessPoints"] == []
    assert aws["ecs"].list_task_definitions(familyPrefix="sabuho-processor", status="ACTIVE")["taskDefinitionArns"] == []
    assert [c for c in aws["ecs"].describe_clusters(clusters=["sabuho-cluster"])["clusters"] if c["status"] == "ACTIVE"] == []
    assert aws["sqs"].list_queues().get("QueueUrls", []) == []
    assert [v for v in aws["ec2"].describe_vpcs()["Vpcs"] if not v["IsDefault"]] == []
    assert aws["cloudwatch"].describe_alarms()["MetricAlarms"] == []
    assert aws["cloudwatch"].list_dashboards()["DashboardEntries"] == []
    roles = {r["RoleName"] for r in aws["iam"].list_roles()["Roles"]}
    assert not roles & {"sabuho-processor-task-role", "sabuho-processor-execution-role", "sabuho-paddleocr-flow-logs"}
    buckets = {b["Name"] for b in aws["s3"].list_buckets()["Buckets"]}
    assert buckets == {"e2e-tfstate"}  # only the state bucket, which the bootstrap stack keeps
