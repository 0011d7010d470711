"""TaskRoles: trust only ECS tasks of this account; the execution role runs the managed policy."""

import pytest

from constructs_lib.iam import TaskRoles, TaskRolesProps
from tests.synth import assert_refused, new_stack, one, policy_statements, resources, synth_stack


@pytest.fixture(scope="module")
def doc():
    stack = new_stack()
    TaskRoles(stack, "roles", project="sabuho")
    return synth_stack(stack)


def test_roles_have_the_configured_names(doc):
    names = sorted(r["name"] for r in resources(doc, "aws_iam_role"))
    assert names == ["sabuho-processor-execution-role", "sabuho-processor-task-role"]


def trust_conditions(doc, role_name: str) -> dict:
    role = next(r for r in resources(doc, "aws_iam_role") if r["name"] == role_name)
    st = one(policy_statements(doc, role["assume_role_policy"]))
    assert st["actions"] == ["sts:AssumeRole"]
    assert st["principals"] == [{"type": "Service", "identifiers": ["ecs-tasks.amazonaws.com"]}]
    conditions = {c["variable"]: c for c in st["condition"]}
    assert conditions["aws:SourceAccount"]["test"] == "StringEquals"
    [account] = conditions["aws:SourceAccount"]["values"]
    assert account.startswith("${data.aws_caller_identity.") and account.endswith(".account_id}")
    return conditions


def test_task_role_trusts_ecs_tasks_of_this_account_and_its_ecs_resources(doc):
    # "Amazon ECS task IAM role": aws:SourceAccount and aws:SourceArn against confused deputies.
    conditions = trust_conditions(doc, "sabuho-processor-task-role")
    assert conditions["aws:SourceArn"]["test"] == "ArnLike"
    assert ":ecs:" in conditions["aws:SourceArn"]["values"][0]


def test_execution_role_trusts_ecs_tasks_of_this_account_without_a_source_arn(doc):
    # "Amazon ECS task execution IAM role" documents no aws:SourceArn on the agent's AssumeRole;
    # ArnLike on a key the request lacks fails, and then no task could start.
    assert set(trust_conditions(doc, "sabuho-processor-execution-role")) == {"aws:SourceAccount"}


def test_execution_role_has_no_managed_policy_on_every_repository_and_log_group(doc):
    # Its pull and log grants are scoped to one repository and one log group (tests/test_service.py).
    assert resources(doc, "aws_iam_role_policy_attachment") == []


def test_task_role_starts_without_permissions(doc):
    assert resources(doc, "aws_iam_role_policy") == []


def test_names_can_be_set_explicitly():
    stack = new_stack()
    TaskRoles(stack, "roles", TaskRolesProps(task_role_name="ocr-task"), project="teamb")
    names = sorted(r["name"] for r in resources(synth_stack(stack), "aws_iam_role"))
    assert names == ["ocr-task", "teamb-processor-execution-role"]


@pytest.mark.parametrize("props,message", [
    # https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html: 1-64 of [\w+=,.@-]
    (dict(task_role_name="r" * 65), "task_role_name: '" + "r" * 65 + "' must be 1-64 characters"),
    (dict(execution_role_name="ocr role"), "execution_role_name: 'ocr role' is not valid"),
    (dict(task_role_name="same", execution_role_name="same"), "execution_role_name: must differ"),
], ids=["too long", "space", "same name twice"])
def test_props_refuse_what_iam_refuses(props, message):
    assert_refused(TaskRolesProps, props, message)
