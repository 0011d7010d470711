"""The IAM contract kit (tests/iam) in the fast tier: policy evaluation as AWS documents it, the
call-to-action mapping of each API's "Permissions" section, and what the ECS agent does for the
task, on the default synth and every variant."""

import pytest

from tests.iam.calls import Call, NotInDeployment, agent_calls, denials, requests_for
from tests.iam.evaluate import Request, evaluate
from tests.iam.render import Deployment
from tests.iam.variants import VARIANTS
from tests.synth import load_stack, settings, synth_app

ROLE = "arn:aws:iam::123456789012:role/task"


def allow(action, resource, condition=None, effect="Allow", **extra):
    st = {"Effect": effect, "Action": action, "Resource": resource, **extra}
    if condition:
        st["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [st]}


def test_an_explicit_deny_in_a_resource_policy_wins_over_an_identity_allow():
    deny_plain_http = allow("s3:*", "arn:aws:s3:::b/*", {"Bool": {"aws:SecureTransport": "false"}}, "Deny",
                            Principal={"AWS": "*"})
    request = Request("s3:GetObject", "arn:aws:s3:::b/k")
    assert evaluate(request, ROLE, [allow("s3:GetObject", "arn:aws:s3:::b/*")], [deny_plain_http]).allowed
    plain = Request("s3:GetObject", "arn:aws:s3:::b/k", {"aws:SecureTransport": ["false"]})
    decision = evaluate(plain, ROLE, [allow("s3:GetObject", "arn:aws:s3:::b/*")], [deny_plain_http])
    assert not decision.allowed and decision.reason.startswith("explicitly denied")


def test_nothing_is_allowed_that_no_statement_allows():
    decision = evaluate(Request("s3:GetObjectVersion", "arn:aws:s3:::b/k"), ROLE, [allow("s3:GetObject", "*")])
    assert decision == decision.__class__(False, "no statement allows it")


def test_an_account_root_principal_in_a_resource_policy_allows_nothing_by_itself():
    topic = allow("sns:Publish", "arn:aws:sns:us-east-1:123456789012:t", Principal={"AWS": "arn:aws:iam::123456789012:root"})
    assert not evaluate(Request("sns:Publish", "arn:aws:sns:us-east-1:123456789012:t"), ROLE, [], [topic]).allowed


@pytest.mark.parametrize("condition,context,holds", [
    ({"StringEquals": {"k": "v"}}, {"k": ["v"]}, True),
    ({"StringEquals": {"k": "v"}}, {}, False),                     # a missing key: a positive test fails
    ({"StringNotEquals": {"k": "v"}}, {}, True),                   # ... and a negated one holds
    ({"StringEqualsIfExists": {"k": "v"}}, {}, True),
    ({"StringLike": {"s3:prefix": "results/*"}}, {"s3:prefix": ["results/a"]}, True),
    ({"ArnLike": {"aws:SourceArn": "arn:aws:ecs:*:1:*"}}, {"aws:SourceArn": ["arn:aws:ecs:us-east-1:1:task/x"]}, True),
    ({"Null": {"k": "true"}}, {}, True),
], ids=["equal", "missing", "negated missing", "if exists", "like", "arn like", "null"])
def test_conditions_follow_the_documented_missing_key_rules(condition, context, holds):
    assert evaluate(Request("s3:GetObject", "arn:aws:s3:::b/k", context), ROLE,
                    [allow("s3:GetObject", "*", condition)]).allowed is holds


def test_an_unknown_condition_operator_is_refused_not_ignored():
    with pytest.raises(ValueError, match="NumericLessThan"):
        evaluate(Request("s3:GetObject", "*"), ROLE, [allow("s3:GetObject", "*", {"NumericLessThan": {"k": "1"}})])


@pytest.fixture(scope="module")
def default(service_doc):
    return Deployment(service_doc)


def call(operation, command="worker", service="s3", **params):
    settings_ = {"OCR_OUTPUT_BUCKET": "out", "OCR_QUEUE_URL": "http://h/123456789012/jobs",
                 "OCR_DLQ_URL": "http://h/123456789012/dlq", "OCR_MODEL_SOURCE": "s3://models/p"}
    return Call(service, operation, params, command, settings_)


@pytest.mark.parametrize("recorded,actions", [
    (call("HeadObject", Bucket="in", Key="incoming/a.png"), ["s3:GetObject", "s3:ListBucket"]),
    (call("GetObject", Bucket="in", Key="incoming/a.png", VersionId="v1"), ["s3:GetObjectVersion", "s3:ListBucket"]),
    (call("PutObject", Bucket="out", Key="results/a.json", IfNoneMatch="*"), ["s3:PutObject"]),
    (call("PutObject", Bucket="out", Key="results/a.json", IfMatch='"e"'), ["s3:PutObject", "s3:GetObject"]),
    (call("SendMessage", service="sqs", QueueUrl="http://h/123456789012/dlq"), ["sqs:SendMessage"]),
], ids=["head: 404 needs ListBucket", "versioned read", "create-only write", "conditional overwrite",
        "dead-letter"])
def test_each_call_maps_to_the_actions_its_api_reference_names(default, recorded, actions):
    assert [r.action for r in requests_for(recorded, default)] == actions


def test_warm_reads_the_model_source_of_the_deployment_and_needs_no_404s(tmp_path):
    """warm treats a missing archive and a refused one alike (exit 12), so no s3:ListBucket."""
    source = Deployment(load_stack(synth_app(tmp_path, settings(models={"source": "s3://acme/models"})), "service"))
    [request] = requests_for(call("HeadObject", "warm", Bucket="models", Key="p/x_infer.tar"), source)
    assert (request.action, request.resource) == ("s3:GetObject", "arn:aws:s3:::acme/models/x_infer.tar")


def test_a_call_of_an_unmapped_operation_fails_loudly(default):
    with pytest.raises(ValueError, match="no IAM mapping for s3 DeleteObject"):
        requests_for(call("DeleteObject", Bucket="in", Key="incoming/a.png"), default)
    with pytest.raises(NotInDeployment):  # the default synth reads no s3:// model source
        requests_for(call("GetObject", "warm", Bucket="models", Key="p/x_infer.tar"), default)


def test_a_new_call_without_a_grant_is_one_line_naming_the_call_and_the_missing_action(default):
    new = call("PutObject", Bucket="out", Key="elsewhere/a.json")
    [line] = denials(requests_for(new, default), default, "roles/task-role", [])
    assert line == ("worker: s3 PutObject(Bucket=out, Key=elsewhere/a.json): needs s3:PutObject on "
                    "arn:aws:s3:::sabuho-paddleocr-out-test/elsewhere/a.json (no statement allows it)")


@pytest.fixture(scope="module", params=sorted(VARIANTS))
def variant(request, tmp_path_factory):
    stacks = synth_app(tmp_path_factory.mktemp(request.param), settings(**VARIANTS[request.param]))
    return request.param, Deployment(load_stack(stacks, "service")), Deployment(load_stack(stacks, "model-cache"))


def test_what_the_ecs_agent_does_for_the_task_is_allowed_to_its_roles(variant):
    """Image pull and log streams (execution role), the EFS mounts through the access point,
    scale-in protection and, with exec, the SSM channels (task role)."""
    name, service, model_cache = variant
    policies = [*service.resource_policies().values(), *model_cache.resource_policies().values()]
    agent = agent_calls(service)
    pulls = [r for r in agent["execution"] if r.action == "ecr:BatchGetImage"]
    assert len(pulls) == 2 and (name != "external-ecr-image" or "210987654321" in pulls[0].resource)
    assert any(r.action == "elasticfilesystem:ClientWrite" for r in agent["task"])  # the warmer's mount
    assert any(r.action.startswith("ssmmessages:") for r in agent["task"]) is (name == "spot-with-exec")
    denied = [*denials(agent["task"], service, "roles/task-role", policies),
              *denials(agent["execution"], service, "roles/execution-role", policies)]
    assert not denied, "\n".join(denied)


def test_mounting_outside_the_access_point_is_denied_by_the_file_system_policy(variant):
    _, service, model_cache = variant
    [mount, *_] = [r for r in agent_calls(service)["task"] if r.action == "elasticfilesystem:ClientMount"]
    outside = Request(mount.action, mount.resource, {}, call="a mount without the access point")
    assert list(denials([outside], service, "roles/task-role", list(model_cache.resource_policies().values())))
