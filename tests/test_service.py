"""OcrService: the cluster and the Fargate service (the task: tests/test_task_definition.py)."""

import re

import pytest

from constructs_lib.config import ConfigError
from tests.synth import (
    data_sources,
    load_stack,
    one,
    policy_statements,
    ref,
    resources,
    role_policies,
    settings,
    synth_app,
)


def test_cluster_has_container_insights(service_doc):
    cluster = one(resources(service_doc, "aws_ecs_cluster"))
    assert cluster["name"] == "sabuho-cluster"
    assert cluster["setting"] == [{"name": "containerInsights", "value": "enabled"}]


def test_service_private_pinned_platform_circuit_breaker(service_doc):
    svc = one(resources(service_doc, "aws_ecs_service"))
    assert svc["name"] == "sabuho-processor-service" and svc["capacity_provider_strategy"][0]["capacity_provider"] == "FARGATE"
    assert svc["platform_version"] == "1.4.0"
    assert svc["network_configuration"]["assign_public_ip"] is False
    assert "network_task-sg" in svc["network_configuration"]["security_groups"][0]
    assert svc["deployment_circuit_breaker"] == {"enable": True, "rollback": True}
    assert (svc["deployment_minimum_healthy_percent"], svc["deployment_maximum_percent"]) == (100, 200)
    assert svc["desired_count"] == 0 and svc["lifecycle"]["ignore_changes"] == ["desired_count"]
    assert svc["enable_execute_command"] is False








def test_ecs_exec_adds_only_the_ssm_channel_permissions(tmp_path):
    doc = load_stack(synth_app(tmp_path, settings(service={"enable_exec": True})), "service")
    assert one(resources(doc, "aws_ecs_service"))["enable_execute_command"] is True
    policy = next(p for p in resources(doc, "aws_iam_role_policy") if p["name"] == "ecs-exec")
    assert one(policy_statements(doc, policy["policy"]))["actions"] == [
        "ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel", "ssmmessages:OpenControlChannel",
        "ssmmessages:OpenDataChannel"]




def test_task_role_may_protect_only_tasks_of_this_cluster(service_doc):
    [(effect, actions, res)] = role_policies(service_doc, "task-role")["task-protection"]
    assert (effect, actions) == ("Allow", ["ecs:UpdateTaskProtection"])
    [arn] = res
    assert re.fullmatch(r"arn:\$\{data\.aws_partition\.aws-partition\.partition\}:ecs:\$\{data\.aws_region\.aws-region\.id\}:"
                        r"\$\{data\.aws_caller_identity\.aws-account\.account_id\}:task/", arn.split("${aws_ecs_cluster")[0])
    assert arn.endswith(ref(service_doc, "aws_ecs_cluster", "name") + "/*")


def test_spot_runs_three_tasks_in_four_on_fargate_spot(service_doc, tmp_path):
    default = one(resources(service_doc, "aws_ecs_service"))
    assert "launch_type" not in default
    assert default["capacity_provider_strategy"] == [{"capacity_provider": "FARGATE", "weight": 1}]
    spot = load_stack(synth_app(tmp_path, settings(service={"spot": True})), "service")
    service = one(resources(spot, "aws_ecs_service"))
    assert "launch_type" not in service
    assert service["capacity_provider_strategy"] == [{"capacity_provider": "FARGATE", "weight": 1},
                                                     {"capacity_provider": "FARGATE_SPOT", "weight": 3}]
    for doc in (service_doc, spot):
        assert one(resources(doc, "aws_ecs_cluster_capacity_providers"))["capacity_providers"] == ["FARGATE",
                                                                                                  "FARGATE_SPOT"]


def test_the_service_is_created_after_its_capacity_providers_and_spot_toggles_in_place(service_doc):
    # CreateService refuses "a capacity provider that is not associated with the cluster" when it
    # runs before PutClusterCapacityProviders: the association must come first.
    service = one(resources(service_doc, "aws_ecs_service"))
    [providers] = service_doc["resource"]["aws_ecs_cluster_capacity_providers"]
    assert service["depends_on"] == [f"aws_ecs_cluster_capacity_providers.{providers}"]
    # With force_new_deployment, the provider updates one non-empty strategy to another in place
    # (capacityProviderStrategyCustomizeDiff); tests/e2e/test_deploy.py plans the toggle.
    assert service["force_new_deployment"] is True




# -- props: what ECS, Fargate and CloudWatch refuse at apply time ---------------------------

BAD_PROPS = {
    # https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CreateCluster.html
    "cluster name with a dot": (dict(cluster_name="ocr.cluster"), "cluster_name: 'ocr.cluster' is not valid"),
    # https://docs.aws.amazon.com/AmazonECS/latest/developerguide/efs-volumes.html
    "platform before efs": (dict(platform_version="1.3.0"), "platform_version: '1.3.0' must be 'LATEST' or 1.4.0"),
}



def test_names_derive_from_the_project_unless_set(tmp_path):
    doc = load_stack(synth_app(tmp_path, settings(project="teamb", service={"service_name": "ocr"})), "service")
    assert one(resources(doc, "aws_ecs_cluster"))["name"] == "teamb-cluster"
    assert one(resources(doc, "aws_ecs_service"))["name"] == "ocr"


def test_an_existing_cluster_is_used_and_nothing_cluster_wide_is_made(tmp_path):
    doc = load_stack(synth_app(tmp_path, settings(service={"existing_cluster": "shared"})), "service")
    assert "aws_ecs_cluster" not in doc["resource"] and "aws_ecs_cluster_capacity_providers" not in doc["resource"]
    assert one(data_sources(doc, "aws_ecs_cluster"))["cluster_name"] == "shared"
    service = one(resources(doc, "aws_ecs_service"))
    assert service["cluster"] == ref(doc, "aws_ecs_cluster", "arn", data=True) and "depends_on" not in service
    name = ref(doc, "aws_ecs_cluster", "cluster_name", data=True)
    assert one(resources(doc, "aws_appautoscaling_target"))["resource_id"].startswith(f"service/{name}/")
    assert doc["output"]["cluster_name"]["value"] == name
    [(_, _, protected)] = role_policies(doc, "task-role")["task-protection"]
    assert protected[0].endswith(f"task/{name}/*")


def test_existing_cluster_and_cluster_name_are_exclusive():
    with pytest.raises(ConfigError, match="service.existing_cluster: names the cluster to use"):
        settings(service={"existing_cluster": "a", "cluster_name": "b"})


@pytest.mark.terraform
@pytest.mark.moto
@pytest.mark.parametrize("insights, error", [
    ("enabled", None), ("enhanced", None),
    ("disabled", "has Container Insights off, and the scaling reads its task counts"),
])
def test_the_plan_checks_an_existing_cluster(tmp_path, terraform_env, moto_endpoint, insights, error):
    """Against moto's ECS: the cluster's Container Insights setting, read by the real provider."""
    import subprocess
    import time

    import boto3

    from constructs_lib.framework import App, TerraformOutput, TerraformStack
    from constructs_lib.provider import add_aws_provider
    from constructs_lib.service import existing_cluster

    name = f"shared-{insights}-{time.monotonic_ns()}"
    boto3.client("ecs", endpoint_url=moto_endpoint, region_name="us-east-1", aws_access_key_id="testing",
                 aws_secret_access_key="testing").create_cluster(
        clusterName=name, settings=[{"name": "containerInsights", "value": insights}])
    app = App(outdir=str(tmp_path))
    stack = TerraformStack(app, "cluster")
    add_aws_provider(stack, region="us-east-1", project="test", endpoint=moto_endpoint)
    TerraformOutput(stack, "arn", value=existing_cluster(stack, "cluster", name).arn)
    app.synth()
    cwd = tmp_path / "stacks" / "cluster"
    env = {**terraform_env, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    subprocess.run(["terraform", "init", "-input=false"], cwd=cwd, env=env, check=True, capture_output=True)
    plan = subprocess.run(["terraform", "plan", "-input=false", "-no-color"], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)
    if error is None:
        assert plan.returncode == 0, plan.stdout + plan.stderr
    else:
        assert plan.returncode != 0 and error in " ".join(plan.stderr.split()), plan.stderr
