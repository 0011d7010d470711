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
import re
import subprocess
import sys
import time

import boto3
import pytest

from tests.e2e.harness import MotoServer, project_copy, run
from tests.iam.moto import IamMoto
from tests.worker.conftest import worker_env
from tests.worker.docs import INVOICE, PAGE_TWO, encode, text_image

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
    # The cdktf stacks go through `make deploy` (synth first, then the CLI on that JSON).
    run(make("deploy", STACK=" ".join(s for s, cli in DEPLOYED_WITH.items() if cli == "cdktf")), project, env)
    for stack in (s for s, cli in DEPLOYED_WITH.items() if cli == "cdktn"):
        npx, cli, *app = CLI["cdktn"]
        run([npx, cli, "deploy", stack, *app, "--auto-approve", "--skip-provider-lock",
             "--ignore-missing-stack-dependencies"], project, env)
    yield {"project": project, "env": env, "aws": clients, "moto": moto}
    moto.stop()


def make(target, **variables):
    """`make <target>` in the project copy. Its virtualenv and node_modules are the checkout's,
    set up already: -o keeps make from setting them up again."""
    return ["make", "--no-print-directory", "-o", ".venv/.installed", "-o", "node_modules/.installed", "-o",
            "node_modules/.node-installed", target,
            "DEPLOY_ARGS=--skip-provider-lock", *(f"{k}={v}" for k, v in variables.items())]


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
def test_the_operator_command_runs_the_deployed_service_as_its_task_role(deployment, warm_cache, mirror, tmp_path):
    """Everything an operator does, only through `paddleocr-efs`, which reads the deployed names from
    the stacks' outputs: submit and wait, fetch a result, a refused document, a poisoned one into
    the dead-letter queue, status, re-drive, pause and resume (and Terraform's next plan leaves the
    pause alone). The worker runs as the task role Terraform created from the synthesized JSON,
    with moto enforcing IAM; the operator is a role with the stack's operator policy and read
    access to the state. (The worker's rules for duplicate, overwritten and deleted uploads run as
    the same role in tests/worker/test_queue_worker.py.)"""
    aws, moto = deployment["aws"], deployment["moto"]
    iam = IamMoto(moto.endpoint, verify=str(moto.cert))
    role = "sabuho-processor-task-role"
    ecs_trust = aws["iam"].get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
    # moto enforces trust policies, and only ECS may assume through this one: for the test, the
    # administrator stands in for ECS (the real trust is put back below; tests/test_iam.py checks it).
    aws["iam"].update_assume_role_policy(RoleName=role, PolicyDocument=json.dumps(iam.admin_trust()))
    inputs, outputs = deployed_bucket(aws, "sabuho-paddleocr-in-"), deployed_bucket(aws, "sabuho-paddleocr-out-")
    role_arn = aws["iam"].get_role(RoleName=role)["Role"]["Arn"]
    queue, dlq = (aws["sqs"].get_queue_url(QueueName=f"sabuho-paddleocr-{q}")["QueueUrl"] for q in ("jobs", "jobs-dlq"))
    admin = {**deployment["env"], "AWS_ACCESS_KEY_ID": iam.admin["aws_access_key_id"],
             "AWS_SECRET_ACCESS_KEY": iam.admin["aws_secret_access_key"]}
    operator = {**deployment["env"], **iam.assume(operator_role(iam, aws)), "AWS_ENDPOINT_URL": moto.endpoint}

    def cli(*args, code=0):
        result = run([".venv/bin/paddleocr-efs", *args], deployment["project"], operator, check=False)
        assert code is None or result.returncode == code, f"{args} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
        return result

    def status():
        return json.loads(cli("status", "--json").stdout)

    files = {}
    for name, content in (("invoice.png", encode(text_image(INVOICE), "PNG")),
                          ("page-two.png", encode(text_image(PAGE_TWO), "PNG")), ("notes.pdf", b"not a PDF at all")):
        files[name] = tmp_path / name
        files[name].write_bytes(content)
    iam.enforce()
    try:
        env = worker_env(warm_cache, mirror / "models.lock.json", f"file://{mirror}", **{
            **iam.assume(role_arn), "AWS_ENDPOINT_URL": moto.endpoint, "AWS_CA_BUNDLE": str(moto.cert),
            "AWS_DEFAULT_REGION": "us-east-1", "OCR_QUEUE_URL": queue, "OCR_DLQ_URL": dlq,
            "OCR_OUTPUT_BUCKET": outputs,
            "OCR_WAIT_SECONDS": "1", "OCR_RETRY_DELAY": "20"})
        worker = subprocess.Popen([sys.executable, "-m", "ocr_worker", "worker"], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True)
        try:
            done = cli("submit", str(files["invoice.png"]), "--wait", "--text", "--timeout", "300")
            assert done.stdout.strip() == INVOICE and f"submitted s3://{inputs}/incoming/invoice.png" in done.stderr
            assert cli("result", "incoming/invoice.png", "--text").stdout.strip() == INVOICE
            # The same key again: --wait waits for this upload's result, not the first one's.
            again = cli("submit", str(files["page-two.png"]), "--key", "incoming/invoice.png", "--wait", "--text")
            assert again.stdout.strip() == PAGE_TWO
            # Two files, one refused: each is waited for, and the exit code says one was refused.
            both = cli("submit", str(files["notes.pdf"]), str(files["page-two.png"]), "--wait", "--text", code=3)
            refused, text = both.stdout.split("\n", 1)
            assert json.loads(refused)["error"] and text.strip() == PAGE_TWO
            assert "results/incoming/notes.pdf.error.json:" in both.stderr

            # A poisoned document: the task role may not read it (an outage, as the worker sees it).
            poison = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "s3:GetObject",
                                                              "Resource": f"arn:aws:s3:::{inputs}/incoming/poison.png"}]}
            iam.client("iam").put_role_policy(RoleName=role, PolicyName="test-outage", PolicyDocument=json.dumps(poison))
            cli("submit", str(files["page-two.png"]), "--key", "incoming/poison.png")
            deadline = time.monotonic() + 300
            while status()["queue"]["dead_letters"] != 1:  # 3 failed attempts, 20 s apart
                assert time.monotonic() < deadline and worker.poll() is None, "the poisoned document never dead-lettered"
                time.sleep(1)
            assert "no result yet" in cli("result", "incoming/poison.png", code=4).stderr
            shown = cli("status").stdout
            assert "1 dead letters" in shown and "results/incoming/notes.pdf.error.json" in shown, shown

            # Re-driven while the outage lasts: it fails once more and waits for its retry (delayed),
            # where a count carried over (3 + 1) would have sent it straight back to the DLQ.
            assert cli("redrive").stdout.startswith("moved 1 message from the dead-letter queue")
            deadline = time.monotonic() + 120
            while (queue_state := status()["queue"])["delayed"] == 0 and queue_state["dead_letters"] == 0:
                assert time.monotonic() < deadline, "the re-driven document was never tried"
                time.sleep(0.5)
            assert (queue_state["delayed"], queue_state["dead_letters"]) == (1, 0), queue_state
            iam.client("iam").delete_role_policy(RoleName=role, PolicyName="test-outage")
            deadline = time.monotonic() + 300
            while (result := cli("result", "incoming/poison.png", "--text", code=None)).returncode != 0:
                assert result.returncode == 4 and time.monotonic() < deadline, result.stderr
                time.sleep(1)
            assert result.stdout.strip() == PAGE_TWO
            assert status()["queue"]["dead_letters"] == 0
        finally:
            worker.terminate()
            out = worker.communicate(timeout=120)[0]
        assert "document failed; will retry" in out and "dead-lettered after repeated failures" in out, out[-3000:]
        iam.client("iam").update_assume_role_policy(RoleName=role, PolicyDocument=json.dumps(ecs_trust))

        cli("pause")
        paused = status()["service"]
        assert paused["paused"] and paused["desired"] == 0
        assert_no_change(deployment, "service", admin)  # Terraform does not lift the pause
        assert cli("resume").stdout.startswith("resumed sabuho-processor-service: scaling on")
        assert not status()["service"]["paused"]
    finally:
        iam.enforce(False)
        aws["iam"].update_assume_role_policy(RoleName=role, PolicyDocument=json.dumps(ecs_trust))
        for bucket in (inputs, outputs):  # emptied, as a user must before destroy (no force_destroy)
            listing = aws["s3"].list_object_versions(Bucket=bucket)
            for version in listing.get("Versions", []) + listing.get("DeleteMarkers", []):
                aws["s3"].delete_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])


def operator_role(iam, aws) -> str:
    """A role with the deployed operator policy, as a team would attach it, and read access to the
    state; its ARN. Two moto differences get their own statements: moto authorizes ECS,
    Application Auto Scaling and EFS calls against resource "*" and evaluates no ecs:cluster
    condition (moto/core/responses.py, call_action), so an ARN-scoped statement of those services
    never matches there and the role also gets their actions on "*"; and moto names a batch call's
    action after the call (sqs:SendMessageBatch) where AWS authorizes it as sqs:SendMessage
    (SendMessageBatch API reference), so those names are added on the same queues. moto still
    checks every action name and every S3 and SQS resource as written;
    tests/operate/test_operator_policy.py checks the scoped resources and the condition by AWS's
    rules."""
    [arn] = [p["Arn"] for p in aws["iam"].list_policies(Scope="Local")["Policies"]
             if p["PolicyName"] == "sabuho-paddleocr-operator"]
    version = aws["iam"].get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    document = aws["iam"].get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"]
    document = json.loads(document) if isinstance(document, str) else document
    moto_only = []
    for st in document["Statement"]:
        actions = [st["Action"]] if isinstance(st["Action"], str) else st["Action"]
        unscoped = [a for a in actions if a.split(":")[0] in ("ecs", "application-autoscaling", "elasticfilesystem")]
        batch = [f"{a}Batch" for a in actions if a in ("sqs:SendMessage", "sqs:DeleteMessage")]
        moto_only += [{"Effect": "Allow", "Action": unscoped, "Resource": "*"}] if unscoped else []
        moto_only += [{"Effect": "Allow", "Action": batch, "Resource": st["Resource"]}] if batch else []
    client = iam.client("iam")
    client.create_role(RoleName="test-operator", AssumeRolePolicyDocument=json.dumps(iam.admin_trust()))
    client.attach_role_policy(RoleName="test-operator", PolicyArn=arn)
    client.put_role_policy(RoleName="test-operator", PolicyName="state-and-moto", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            # Terraform's S3 backend reads the state ("S3 backend", "S3 Bucket Permissions").
            {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::e2e-tfstate"},
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::e2e-tfstate/paddleocr-efs/*"},
            *moto_only]}))
    return client.get_role(RoleName="test-operator")["Role"]["Arn"]


def assert_no_change(deployment, stack, env):
    cwd = stack_dir(deployment, stack)
    result = run(["terraform", "plan", "-detailed-exitcode", "-input=false", "-no-color"], cwd, env, check=False)
    assert result.returncode == 0, f"{stack} plans changes:\n{result.stdout[-4000:]}{result.stderr[-2000:]}"


@pytest.mark.parametrize("framework", ["cdktn", "cdktf"])
def test_every_stack_converges_under_both_frameworks(deployment, framework):
    """Whichever CLI deployed a stack, the other framework's synth of it plans no change."""
    run([*CLI[framework][:2], "synth", *CLI[framework][2:]], deployment["project"], deployment["env"])
    for stack in ["bootstrap"] + STACKS:
        cwd = stack_dir(deployment, stack)
        run(["terraform", "init", "-input=false", "-no-color"], cwd, deployment["env"])
        assert_no_change(deployment, stack, deployment["env"])
    if framework == "cdktf":
        shown = run(make("diff", STACK="network model-cache"), deployment["project"], deployment["env"]).stdout
        assert shown.count("No changes") >= 2 and "Plan:" not in shown, shown[-3000:]
        assert not re.search("[\u2800-\u28ff]", shown), "a spinner frame in make's log"


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
    run(make("destroy"), deployment["project"], deployment["env"])  # service, model-cache, network
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
