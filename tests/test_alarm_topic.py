"""AlarmTopic: an SNS topic alarms can actually publish to (its own key), EventBridge rules named
by ARN, TLS only."""

import json

import pytest

from constructs_lib.alarm_topic import AlarmTopic, AlarmTopicProps
from tests.synth import (
    assert_refused,
    load_stack,
    new_stack,
    one,
    policy_statements,
    ref,
    resources,
    settings,
    synth_app,
    synth_stack,
)


def topic_doc(props=None, rules=()):
    stack = new_stack()
    AlarmTopic(stack, "topic", props, project="teamx", account_id="111122223333", event_rule_arns=list(rules))
    return synth_stack(stack)


def test_alarm_topic_uses_a_rotated_customer_key_that_cloudwatch_may_use_for_this_account_only(service_doc):
    """The AWS-managed alias/aws/sns key would drop every alarm: CloudWatch may not use it ("Enable
    compatibility between event sources from AWS services and encrypted topics",
    https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html)."""
    topic = one(resources(service_doc, "aws_sns_topic"))
    key = one(resources(service_doc, "aws_kms_key"))
    assert topic["kms_master_key_id"] == ref(service_doc, "aws_kms_key", "arn")  # never alias/aws/sns
    assert key["enable_key_rotation"] is True
    statements = {st["Sid"]: st for st in json.loads(key["policy"])["Statement"]}
    assert statements["AccountAdministers"]["Principal"]["AWS"].endswith(":root")
    cloudwatch = statements["CloudWatchAlarmsPublish"]
    assert cloudwatch["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert cloudwatch["Action"] == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert cloudwatch["Condition"] == {"StringEquals": {"aws:SourceAccount": "${data.aws_caller_identity.aws-account.account_id}"}}
    assert statements["EventBridgePublish"]["Principal"] == {"Service": "events.amazonaws.com"}


def test_only_the_named_rules_may_publish_through_eventbridge_and_only_over_tls():
    doc = topic_doc(rules=["arn:aws:events:us-east-1:111122223333:rule/a"])
    statements = {st["sid"]: st for st in policy_statements(doc, one(resources(doc, "aws_sns_topic_policy"))["policy"])}
    events = statements["EventRulesPublish"]
    assert events["principals"] == [{"type": "Service", "identifiers": ["events.amazonaws.com"]}]
    assert events["condition"] == [{"test": "ArnEquals", "variable": "aws:SourceArn",
                                    "values": ["arn:aws:events:us-east-1:111122223333:rule/a"]}]
    assert statements["DenyWithoutTls"]["effect"] == "Deny"
    assert statements["CloudWatchAlarmsPublish"]["condition"][0]["values"] == ["111122223333"]


def test_without_rules_eventbridge_gets_no_statement_and_names_follow_the_project():
    doc = topic_doc()
    sids = {st["sid"] for st in policy_statements(doc, one(resources(doc, "aws_sns_topic_policy"))["policy"])}
    assert sids == {"AccountOwns", "CloudWatchAlarmsPublish", "DenyWithoutTls"}
    assert one(resources(doc, "aws_sns_topic"))["name"] == "teamx-paddleocr-alarms"
    assert one(resources(doc, "aws_kms_alias"))["name"] == "alias/teamx-paddleocr-alarms"
    assert resources(doc, "aws_sns_topic_subscription") == []


def test_an_email_subscribes():
    doc = topic_doc(AlarmTopicProps(name="ops", email="ops@example.com"))
    subscription = one(resources(doc, "aws_sns_topic_subscription"))
    assert (subscription["protocol"], subscription["endpoint"]) == ("email", "ops@example.com")
    assert one(resources(doc, "aws_sns_topic"))["name"] == "ops-alarms"


@pytest.mark.parametrize("props,message", [
    (dict(email="ops.example.com"), "email: 'ops.example.com' is not an e-mail address"),
    (dict(name="ops alarms"), "name: 'ops alarms' is not valid"),
], ids=["no at sign", "space in name"])
def test_props_refuse_what_sns_refuses(props, message):
    assert_refused(AlarmTopicProps, props, message)


def test_the_readmes_state_moves_name_every_address_that_changed_and_only_those(tmp_path):
    """The alarm topic moved into AlarmTopic, the log group and task definition into
    OcrTaskDefinition: the README's ``terraform state mv`` lines must take each old address
    (the previous release's) to the address synthesized now."""
    import re
    from pathlib import Path

    readme = (Path(__file__).parent.parent / "README.md").read_text()
    start = "<<'MOVES'\n"
    block = readme[readme.index(start) + len(start):readme.index("\nMOVES\n")]
    moves = dict(line.split() for line in block.splitlines())
    doc = load_stack(synth_app(tmp_path, settings(monitoring={"alarm_email": "a@example.com"})), "service")
    addresses = {f"{rtype}.{name}" for rtype, items in doc["resource"].items() for name in items}
    assert set(moves.values()) <= addresses
    assert not set(moves) & addresses
    changed = {"aws_cloudwatch_log_group", "aws_ecs_task_definition", "aws_kms_key", "aws_kms_alias",
               "aws_sns_topic", "aws_sns_topic_policy", "aws_sns_topic_subscription"}
    assert {re.sub(r"\..*", "", new) for new in moves.values()} == changed
