"""parliament (duo-labs' IAM policy linter) on every policy document every stack synthesizes:
roles' trust and inline policies, bucket, queue, topic, key and file-system policies, on the
default synth and the variants of tests/iam/variants.py. Any finding fails, except the ones
listed below, each with the reason it is right on AWS."""

import json

import pytest
from parliament import analyze_policy_string

from tests.iam.render import Deployment
from tests.iam.variants import VARIANTS
from tests.synth import load_stack, settings, synth_app

pytestmark = [pytest.mark.scan]

STACKS = ("bootstrap", "network", "model-cache", "service")

#: (issue, where the policy's label contains this) -> why it stands.
ALLOWED = {
    ("MALFORMED", ":trust"): "a role's trust policy has no Resource: the role is the resource (IAM JSON "
                             "policy elements, 'Resource'); parliament reads every policy as an identity policy",
    ("CREDENTIALS_EXPOSURE", ":pull-image"): "ecr:GetAuthorizationToken: the execution role needs a registry "
                                             "token to pull the image ('Amazon ECS task execution IAM role')",
    ("MISMATCHED_TYPE_BUT_USABLE", ":model-cache-read-"): "elasticfilesystem:AccessPointArn under StringEquals, "
                                                          "as EFS's own access-point policy examples write it",
    ("MISMATCHED_TYPE_BUT_USABLE", "aws_efs_file_system_policy."): "the same key under StringNotEquals (EFS, "
                                                                   "'Enforcing a root directory with an access point')",
    ("PERMISSIONS_MANAGEMENT_ACTIONS", "aws_sns_topic_policy."): "the account administers its own topic, as in "
                                                                 "the default topic policy SNS writes",
    ("PERMISSIONS_MANAGEMENT_ACTIONS", "aws_kms_key."): "the key policy's account statement, without which the "
                                                        "key is unmanageable ('Default key policy', AWS KMS)",
    ("RESOURCE_STAR", "managed:sabuho-paddleocr-operator"): "ecs:ListTasks on '*' with the ecs:cluster condition, "
                                                           "as the ECS developer guide's 'List and describe Amazon "
                                                           "ECS task examples' scope it to one cluster",
    ("RESOURCE_STAR", "aws_kms_key."): "in a key policy, Resource '*' means this key ('Key policies in AWS KMS')",
}


@pytest.fixture(scope="module", params=sorted(VARIANTS))
def policies(request, tmp_path_factory):
    stacks = synth_app(tmp_path_factory.mktemp(request.param), settings(**VARIANTS[request.param]))
    found = {}
    for stack in STACKS:
        found.update({f"{stack}/{label}": doc for label, doc in Deployment(load_stack(stacks, stack)).all_policies().items()})
    return found


def findings(policy: dict) -> list[tuple[str, str]]:
    return [(f.issue, str(f.detail)) for f in analyze_policy_string(json.dumps(policy), include_community_auditors=True).findings]


def test_every_policy_document_is_parliament_clean(policies):
    assert any(":trust" in label for label in policies) and any("aws_kms_key." in label for label in policies)
    unexplained = [f"{label}: {issue} {detail}".strip() for label, policy in sorted(policies.items())
                   for issue, detail in findings(policy)
                   if not any(issue == allowed and where in label for allowed, where in ALLOWED)]
    assert not unexplained, "\n".join(unexplained)


def test_the_linter_fails_what_it_should():
    """A grant of every action on every resource, and an action that does not exist."""
    wildcard = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    assert findings(wildcard)
    typo = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObjekt", "Resource": "*"}]}
    assert "UNKNOWN_ACTION" in {issue for issue, _ in findings(typo)}
