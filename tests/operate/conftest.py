"""A deployment's parts made in a real moto server (queues, buckets, an ECS service and its
scalable target, an EFS file system), named as the stacks' outputs would name them."""

from __future__ import annotations

import time

import boto3
import pytest

from constructs_lib.operate.cli import CLIENTS
from constructs_lib.operate.deployment import Deployment


@pytest.fixture
def clients(moto_endpoint, monkeypatch) -> dict:
    for name, value in {"AWS_ENDPOINT_URL": moto_endpoint, "AWS_ACCESS_KEY_ID": "testing",
                        "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    return {name: boto3.client(name, region_name="us-east-1") for name in (*CLIENTS, "ec2")}


@pytest.fixture
def deployment(clients) -> Deployment:
    suffix = str(time.monotonic_ns())
    s3, sqs, ecs, efs, ec2 = (clients[n] for n in ("s3", "sqs", "ecs", "efs", "ec2"))
    buckets = {"in": f"in-{suffix}", "out": f"out-{suffix}"}
    for bucket in buckets.values():
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    dlq = sqs.create_queue(QueueName=f"dlq-{suffix}")["QueueUrl"]
    queue = sqs.create_queue(QueueName=f"jobs-{suffix}")["QueueUrl"]
    cluster, service = f"cluster-{suffix}", f"service-{suffix}"
    ecs.create_cluster(clusterName=cluster)
    family = ecs.register_task_definition(family=f"task-{suffix}", containerDefinitions=[
        {"name": "ocr-worker", "image": "ocr-worker:test", "memory": 512}])["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(cluster=cluster, serviceName=service, taskDefinition=family, desiredCount=2)
    clients["application-autoscaling"].register_scalable_target(
        ServiceNamespace="ecs", ResourceId=f"service/{cluster}/{service}", ScalableDimension="ecs:service:DesiredCount",
        MinCapacity=0, MaxCapacity=10)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    fs = efs.create_file_system(CreationToken=suffix, Encrypted=True)["FileSystemId"]
    efs.create_mount_target(FileSystemId=fs, SubnetId=subnet)
    return Deployment(region="us-east-1", cluster_name=cluster, service_name=service, queue_url=queue, dlq_url=dlq,
                      input_bucket=buckets["in"], input_prefix="incoming/", output_bucket=buckets["out"],
                      output_prefix="results/", log_group=f"/ecs/{suffix}", file_system_id=fs)


def applied_stacks(folder, deployment: Deployment, env: dict):
    """``cdktf.out/stacks`` as a deploy leaves it: each stack's folder with local state whose
    outputs name ``deployment``'s parts (applied by the real terraform, outputs only)."""
    import dataclasses
    import json
    import subprocess

    values = dataclasses.asdict(deployment)
    for stack, names in (("service", [n for n in values if n != "file_system_id"]), ("model-cache", ["file_system_id"])):
        path = folder / stack
        path.mkdir(parents=True)
        (path / "cdk.tf.json").write_text(json.dumps({"output": {n: {"value": values[n]} for n in names}}))
        for command in (["init", "-input=false"], ["apply", "-auto-approve", "-input=false"]):
            subprocess.run(["terraform", *command, "-no-color"], cwd=path, env=env, check=True, capture_output=True)
    return folder
