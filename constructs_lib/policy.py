"""IAM policy building blocks shared by the grant methods.

Policies are ``aws_iam_policy_document`` data sources: Terraform renders them, checkov reads them,
and tests assert on their statements.
"""

from __future__ import annotations

from typing import Iterable, Mapping, Optional, Protocol, Sequence, cast

from constructs import Construct, Node

from constructs_lib.framework import aws

DataAwsIamPolicyDocument = aws.data_aws_iam_policy_document.DataAwsIamPolicyDocument
DataAwsIamPolicyDocumentStatement = aws.data_aws_iam_policy_document.DataAwsIamPolicyDocumentStatement
DataAwsIamPolicyDocumentStatementCondition = aws.data_aws_iam_policy_document.DataAwsIamPolicyDocumentStatementCondition
DataAwsIamPolicyDocumentStatementPrincipals = aws.data_aws_iam_policy_document.DataAwsIamPolicyDocumentStatementPrincipals  # noqa: E501 (a binding name)
IamRolePolicy = aws.iam_role_policy.IamRolePolicy
Statement = DataAwsIamPolicyDocumentStatement

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


class Role(Protocol):
    """What a grant needs of a principal: an ``IamRole``, or a ``DataAwsIamRole`` for a role made
    elsewhere."""

    @property
    def node(self) -> Node: ...

    @property
    def name(self) -> str: ...

    @property
    def arn(self) -> str: ...


def grant(role: Role, name: str, statements: Sequence[DataAwsIamPolicyDocumentStatement]) -> IamRolePolicy:
    """Attach ``statements`` to ``role`` as an inline policy named ``name``, and return it.

    Like aws-cdk-lib's ``Grant``, the policy goes to the principal: it is created beside the role,
    in the role's stack, and refers to the granted resources. The resources' stack therefore never
    depends on the stack that holds the role."""
    scope, id = cast(Construct, role.node.scope), f"{role.node.id}-grant-{name}"
    granted = scope.node.try_find_child(id)
    if granted is not None:  # granted before: safe to call again
        if getattr(granted, "statements", None) != list(statements):
            raise ValueError(f"{role.node.path}: a grant named {name!r} is already attached with other statements")
        return granted.policy  # type: ignore[attr-defined]
    holder = Construct(scope, id)
    holder.statements = list(statements)  # type: ignore[attr-defined]
    document = policy_document(holder, "document", statements)
    holder.policy = IamRolePolicy(holder, "policy", name=name, role=role.name,  # type: ignore[attr-defined]
                                  policy=document.json)
    return holder.policy  # type: ignore[attr-defined]
