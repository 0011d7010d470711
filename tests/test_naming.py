"""Names: every physical name derives from the project; "sabuho" gives the guide's names."""

import json

import pytest

from constructs_lib.naming import Names
from constructs_lib.validation import ConfigError
from tests.synth import load_stack, one, resources, settings, synth_app


def test_sabuho_gives_exactly_the_guides_names():
    names = Names("sabuho")
    assert (names.file_system, names.cluster, names.service, names.family, names.task_role, names.log_group) == (
        "sabuho-paddleocr-models", "sabuho-cluster", "sabuho-processor-service", "sabuho-processor",
        "sabuho-processor-task-role", "/ecs/sabuho-processor")


def test_the_default_synth_uses_the_guides_names(default_stacks, service_doc):
    cache = load_stack(default_stacks, "model-cache")
    assert one(resources(cache, "aws_efs_file_system"))["tags"] == {"Name": "sabuho-paddleocr-models"}
    assert one(resources(service_doc, "aws_ecs_cluster"))["name"] == "sabuho-cluster"
    assert one(resources(service_doc, "aws_ecs_service"))["name"] == "sabuho-processor-service"
    assert one(resources(service_doc, "aws_ecs_task_definition"))["family"] == "sabuho-processor"
    assert one(resources(service_doc, "aws_cloudwatch_log_group"))["name"] == "/ecs/sabuho-processor"
    assert one(resources(service_doc, "aws_ecr_repository"))["name"] == "sabuho-processor"


@pytest.fixture(scope="module")
def teamb(tmp_path_factory):
    return synth_app(tmp_path_factory.mktemp("teamb"), settings(project="teamb", backend={"type": "s3", "bucket": "acme-tfstate"}))


def test_a_second_project_shares_no_name_and_no_state_with_the_first(teamb):
    for stack in teamb.iterdir():
        text = (stack / "cdk.tf.json").read_text()
        assert "sabuho" not in text, f"{stack.name} still names sabuho"
    service = load_stack(teamb, "service")
    assert one(resources(service, "aws_ecs_cluster"))["name"] == "teamb-cluster"
    assert sorted(r["name"] for r in resources(service, "aws_iam_role")) == [
        "teamb-processor-execution-role", "teamb-processor-task-role"]
    assert load_stack(teamb, "network")["terraform"]["backend"]["s3"]["key"] == "paddleocr-efs/teamb/network.tfstate"


def test_state_locations_include_the_project(tmp_path):
    local = synth_app(tmp_path / "local", settings(project="teamb"))
    assert load_stack(local, "network")["terraform"]["backend"] == {"local": {"path": "../../../terraform.teamb.network.tfstate"}}
    cloud = synth_app(tmp_path / "cloud", settings(project="teamb", backend={"type": "cloud", "organization": "acme"}))
    assert load_stack(cloud, "service")["terraform"]["cloud"]["workspaces"] == {"name": "paddleocr-efs-teamb-service"}


def test_any_name_can_still_be_set(tmp_path):
    stacks = synth_app(tmp_path, settings(project="teamb", service={"cluster_name": "shared-ocr"},
                                          model_cache={"name": "legacy-models"}))
    assert one(resources(load_stack(stacks, "service"), "aws_ecs_cluster"))["name"] == "shared-ocr"
    assert "legacy-models" in json.dumps(load_stack(stacks, "model-cache"))


@pytest.mark.parametrize("project", ["Sabuho", "team_b", "-team", "team-", "a" * 23, ""])
def test_project_must_fit_every_derived_name(project):
    # Lower case: it starts S3 bucket names; at most 22: <project>-paddleocr-out- must fit
    # Terraform's 37-character bucket_prefix.
    with pytest.raises(ConfigError, match=r"^project: "):
        Names(project)
