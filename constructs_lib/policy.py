"""IAM policy building blocks shared by the grant methods.

Policies are ``aws_iam_policy_document`` data sources: Terraform renders them, checkov reads them,
and tests assert on their statements.
"""

from __future__ import annotations

from typing import Iterable, Mapping, Optional, Sequence

from cdktf_cdktf_provider_aws.data_aws_iam_policy_document import (
    DataAwsIamPolicyDocument,
    DataAwsIamPolicyDocumentStatement,
    DataAwsIamPolicyDocumentStatementCondition,
    DataAwsIamPolicyDocumentStatementPrincipals,
)
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from constructs import Construct

#: (test, variable, values), e.g. ("StringEquals", "aws:SourceAccount", [account_id]).
Condition = tuple[str, str, Sequence[str]]


def statement(
    sid: str,
    actions: Iterable[str],
    resources: Iterable[str],
    *,
    effect: str = "Allow",
    principals: Optional[Mapping[str, Sequence[str]]] = None,
    conditions: Iterable[Condition] = (),
) -> DataAwsIamPolicyDocumentStatement:
    return DataAwsIamPolicyDocumentStatement(
        sid=sid,
        effect=effect,
        actions=list(actions),
        resources=list(resources) or None,
        principals=[DataAwsIamPolicyDocumentStatementPrincipals(type=t, identifiers=list(ids))
                    for t, ids in (principals or {}).items()] or None,
        condition=[DataAwsIamPolicyDocumentStatementCondition(test=t, variable=v, values=list(vals))
                   for t, v, vals in conditions] or None,
    )


def deny_without_tls(actions: Iterable[str], resources: Iterable[str]) -> DataAwsIamPolicyDocumentStatement:
    """The resource-policy statement that refuses every request not made over TLS."""
    return statement("DenyWithoutTls", actions, resources, effect="Deny", principals={"AWS": ["*"]},
                     conditions=[("Bool", "aws:SecureTransport", ["false"])])


def policy_document(scope: Construct, id: str,
                    statements: Sequence[DataAwsIamPolicyDocumentStatement]) -> DataAwsIamPolicyDocument:
    return DataAwsIamPolicyDocument(scope, id, statement=list(statements))


def service_trust_policy(scope: Construct, id: str, service: str, account_id: str,
                         source_arn: Optional[str] = None) -> DataAwsIamPolicyDocument:
    """Trust ``service`` to assume a role, only on behalf of this account (confused deputy)."""
    conditions: list[Condition] = [("StringEquals", "aws:SourceAccount", [account_id])]
    if source_arn:
        conditions.append(("ArnLike", "aws:SourceArn", [source_arn]))
    return policy_document(scope, id, [statement(
        "TrustService", ["sts:AssumeRole"], [], principals={"Service": [service]}, conditions=conditions)])


def grant(scope: Construct, role: IamRole, name: str,
          statements: Sequence[DataAwsIamPolicyDocumentStatement]) -> IamRolePolicy:
    """Attach ``statements`` to ``role`` as an inline policy named ``name``.

    The policy lives under ``scope``, the construct that owns the resources it grants, so stacks
    only ever depend on earlier stacks: a role from the model-cache stack granted access to the
    service stack's queue gets that policy in the service stack."""
    holder = Construct(scope, f"grant-{name}")
    document = policy_document(holder, "document", statements)
    return IamRolePolicy(holder, "policy", name=name, role=role.name, policy=document.json)
