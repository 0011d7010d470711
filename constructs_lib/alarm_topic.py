"""The SNS topic alarms and EventBridge rules publish to, encrypted with its own key."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Optional, Sequence

from constructs import Construct

from constructs_lib import aws_env, validation
from constructs_lib.framework import aws
from constructs_lib.naming import Names
from constructs_lib.policy import Condition, deny_without_tls, policy_document, statement
from constructs_lib.validation import Props

KmsAlias = aws.kms_alias.KmsAlias
KmsKey = aws.kms_key.KmsKey
SnsTopic = aws.sns_topic.SnsTopic
SnsTopicPolicy = aws.sns_topic_policy.SnsTopicPolicy
SnsTopicSubscription = aws.sns_topic_subscription.SnsTopicSubscription


@dataclass(frozen=True)
class AlarmTopicProps(Props):
    """Attributes:
        name: The topic is ``<name>-alarms``, its key ``alias/<name>-alarms``. Default
            ``<project>-paddleocr``.
        email: E-mail address subscribed to the topic (it must confirm). Default none.
    """

    name: Optional[str] = None
    email: Optional[str] = None

    def validate(self) -> None:
        if self.name is not None:
            # SNS topic names: up to 256 letters, digits, '-' and '_' (CreateTopic); KMS aliases
            # allow the same characters. The stricter ECS rule covers both.
            validation.ecs_name("name", self.name)
        if self.email is not None:
            validation.email("email", self.email)


class AlarmTopic(Construct):
    """A topic encrypted with its own customer-managed key, that CloudWatch alarms of this account
    and the given EventBridge rules may publish to, over TLS only.

    The topic cannot use the AWS-managed key ``alias/aws/sns``: its key policy cannot be changed,
    and it does not let CloudWatch use it, so every alarm notification would be dropped
    ("Enable compatibility between event sources from AWS services and encrypted topics",
    https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services).
    The key ($1 a month) rotates yearly and lets ``cloudwatch.amazonaws.com`` use it only on
    behalf of this account."""

    def __init__(self, scope: Construct, id: str, props: Optional[AlarmTopicProps] = None, *, project: str,
                 account_id: str, event_rule_arns: Sequence[str] = ()) -> None:
        """``event_rule_arns``: EventBridge rules that may publish (``aws:SourceArn``).
        Attributes: ``topic`` (SnsTopic), ``key`` and ``alias`` (its KMS key), ``policy``,
        ``subscription`` (with an e-mail), ``props``."""
        super().__init__(scope, id)
        props = self.props = props or AlarmTopicProps()
        name = props.name or Names(project).prefix
        partition = aws_env.partition(self)
        # A key policy, not an IAM policy: "Resource": "*" means this key. Written inline so that
        # IAM-policy scanners do not read it as an identity policy on every resource.
        key_policy = {"Version": "2012-10-17", "Statement": [
            # Without an account statement the key is unmanageable; KMS refuses such a policy.
            {"Sid": "AccountAdministers", "Effect": "Allow", "Action": "kms:*", "Resource": "*",
             "Principal": {"AWS": f"arn:{partition}:iam::{account_id}:root"}},
            {"Sid": "CloudWatchAlarmsPublish", "Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
             "Resource": "*", "Principal": {"Service": "cloudwatch.amazonaws.com"},
             "Condition": {"StringEquals": {"aws:SourceAccount": account_id}}},
            # EventBridge's KMS calls carry no aws:SourceAccount or aws:SourceArn, so a condition
            # would drop every event ("Amazon EventBridge targets", encrypted SNS topics); the topic
            # policy below limits who may publish.
            {"Sid": "EventBridgePublish", "Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
             "Resource": "*", "Principal": {"Service": "events.amazonaws.com"}},
        ]}
        self.key = KmsKey(self, "alarm-key", description=f"{name}: alarm topic encryption",
                          enable_key_rotation=True, deletion_window_in_days=30, policy=json.dumps(key_policy))
        self.alias = KmsAlias(self, "alarm-key-alias", name=f"alias/{name}-alarms", target_key_id=self.key.key_id)
        self.topic = SnsTopic(self, "alarms", name=f"{name}-alarms", kms_master_key_id=self.key.arn)
        self.subscription: Optional[SnsTopicSubscription] = None
        if props.email:
            self.subscription = SnsTopicSubscription(self, "email", topic_arn=self.topic.arn, protocol="email",
                                                     endpoint=props.email)
        rules: list[Condition] = [("ArnEquals", "aws:SourceArn", list(event_rule_arns))]
        topic_policy = policy_document(self, "topic-policy", [
            statement("AccountOwns", ["sns:GetTopicAttributes", "sns:SetTopicAttributes", "sns:AddPermission",
                                      "sns:RemovePermission", "sns:DeleteTopic", "sns:Subscribe",
                                      "sns:ListSubscriptionsByTopic", "sns:Publish"], [self.topic.arn],
                      principals={"AWS": [f"arn:{partition}:iam::{account_id}:root"]}),
            statement("CloudWatchAlarmsPublish", ["sns:Publish"], [self.topic.arn],
                      principals={"Service": ["cloudwatch.amazonaws.com"]},
                      conditions=[("StringEquals", "aws:SourceAccount", [account_id])]),
            *([statement("EventRulesPublish", ["sns:Publish"], [self.topic.arn],
                         principals={"Service": ["events.amazonaws.com"]}, conditions=rules)]
              if event_rule_arns else []),
            deny_without_tls(["sns:Publish"], [self.topic.arn]),
        ])
        self.policy = SnsTopicPolicy(self, "topic-policy-attachment", arn=self.topic.arn, policy=topic_policy.json)

    @property
    def arn(self) -> str:
        return self.topic.arn
