"""Grants attach to the principal, like aws-cdk-lib's Grant, and return what they added."""

from constructs_lib.framework import App, TerraformStack, aws
from constructs_lib.policy import deny_without_tls, grant, service_trust_policy, statement
from tests.synth import resources, synth_stack


def test_a_grant_lives_beside_the_role_not_the_resource(tmp_path):
    app = App(outdir=str(tmp_path))
    earlier, later = TerraformStack(app, "earlier"), TerraformStack(app, "later")
    queue = aws.sqs_queue.SqsQueue(earlier, "queue", name="q")
    role = aws.iam_role.IamRole(later, "role", name="r", assume_role_policy="{}")
    added = grant(role, "consume", [statement("Consume", ["sqs:ReceiveMessage"], [queue.arn])])
    assert isinstance(added, aws.iam_role_policy.IamRolePolicy)
    assert resources(synth_stack(earlier), "aws_iam_role_policy") == []
    [policy] = resources(synth_stack(later), "aws_iam_role_policy")
    assert policy["name"] == "consume"


def test_two_roles_in_one_scope_can_get_the_same_grant():
    from constructs_lib.framework import Testing

    stack = TerraformStack(Testing.app(), "s")
    for name in ("a", "b"):
        grant(aws.iam_role.IamRole(stack, name, name=name, assume_role_policy="{}"), "read", [statement("Read", ["s3:GetObject"], ["*"])])
    assert len(resources(synth_stack(stack), "aws_iam_role_policy")) == 2


def test_tls_deny_and_confused_deputy_trust():
    from constructs_lib.framework import Testing

    stack = TerraformStack(Testing.app(), "s")
    service_trust_policy(stack, "trust", "ecs-tasks.amazonaws.com", "111122223333", "arn:aws:ecs:*:111122223333:*")
    [document] = synth_stack(stack)["data"]["aws_iam_policy_document"].values()
    [st] = document["statement"]
    assert {c["variable"] for c in st["condition"]} == {"aws:SourceAccount", "aws:SourceArn"}
    deny = deny_without_tls(["s3:*"], ["arn:aws:s3:::b"])
    assert deny.effect == "Deny" and deny.condition[0].values == ["false"]


def test_a_grant_made_again_returns_the_same_policy_and_a_conflicting_one_is_refused():
    """Calling a construct's grant twice (``pipeline.grant_process(role)`` in two places) used to
    raise a duplicate-construct error; the same grant is now the same policy."""
    import pytest

    from constructs_lib.framework import Testing

    stack = TerraformStack(Testing.app(), "s")
    role = aws.iam_role.IamRole(stack, "r", name="r", assume_role_policy="{}")
    read = [statement("Read", ["s3:GetObject"], ["arn:aws:s3:::b/*"])]
    assert grant(role, "read", read) is grant(role, "read", list(read))
    assert len(resources(synth_stack(stack), "aws_iam_role_policy")) == 1
    with pytest.raises(ValueError, match="a grant named 'read' is already attached with other statements"):
        grant(role, "read", [statement("Read", ["s3:GetObject"], ["arn:aws:s3:::other/*"])])
