"""IAM policy evaluation for one principal of the account, as AWS documents it.

"Policy evaluation logic" (IAM User Guide): an explicit Deny in any applicable policy wins; else
a request is allowed when an identity policy, or a resource policy naming the principal, allows
it (same account); else it is implicitly denied. A resource policy whose principal is the
account root only delegates to the account's identity policies: it allows nothing by itself.

Condition operators ("IAM JSON policy elements: Condition operators"): a key missing from the
request context makes a positive operator false and a negated one (``...Not...``) true, and
``...IfExists`` true. An operator this module does not know raises, so no condition is ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Optional, Sequence


@dataclass(frozen=True)
class Request:
    action: str
    resource: str
    #: Condition keys of the request context; aws:SecureTransport is added (every call is TLS).
    context: Mapping[str, Sequence[str]] = field(default_factory=dict)
    #: The call the request comes from, for messages.
    call: str = ""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str


def _glob(pattern: str, value: str, case_sensitive: bool = True) -> bool:
    """IAM wildcards: ``*`` any run of characters, ``?`` one character; nothing else is special."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, 0 if case_sensitive else re.IGNORECASE) is not None


def _listed(value) -> list[str]:
    return [value] if isinstance(value, str) else list(value)



def _matches_action(statement: dict, action: str) -> bool:
    if "NotAction" in statement:
        return not any(_glob(a, action, False) for a in _listed(statement["NotAction"]))
    return any(_glob(a, action, False) for a in _listed(statement["Action"]))


def _matches_resource(statement: dict, resource: str) -> bool:
    if "NotResource" in statement:
        return not any(_glob(r, resource) for r in _listed(statement["NotResource"]))
    return any(_glob(r, resource) for r in _listed(statement.get("Resource", "*")))


def _matches_principal(statement: dict, principal: str, resource_policy: bool) -> bool:
    if not resource_policy:
        return True
    if "Principal" not in statement:
        raise ValueError(f"resource policy statement {statement.get('Sid')!r} has no Principal")
    principals = statement["Principal"]
    if principals == "*":
        return True
    aws_principals = _listed(principals.get("AWS", []))
    return "*" in aws_principals or principal in aws_principals


_BASE = {
    "StringEquals": lambda p, v: p == v,
    "StringEqualsIgnoreCase": lambda p, v: p.lower() == v.lower(),
    "StringLike": lambda p, v: _glob(p, v),
    "ArnEquals": lambda p, v: p == v,
    "ArnLike": lambda p, v: _glob(p, v),
    "Bool": lambda p, v: p.lower() == v.lower(),
}
_NEGATED = {"StringNotEquals": "StringEquals", "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
            "StringNotLike": "StringLike", "ArnNotEquals": "ArnEquals", "ArnNotLike": "ArnLike"}


def _condition_holds(operator: str, key: str, wanted: Sequence[str], context: Mapping[str, Sequence[str]]) -> bool:
    present = key in context
    if operator == "Null":  # "true": the key must be absent
        return all((str(w).lower() == "true") != present for w in _listed(wanted))
    if_exists = operator.endswith("IfExists")
    base = operator.removesuffix("IfExists")
    if base not in _BASE and base not in _NEGATED:
        raise ValueError(f"condition operator {operator} is not supported by tests/iam/evaluate.py")
    if not present:
        return if_exists or base in _NEGATED
    values = [str(v) for v in context[key]]
    wanted = [str(w) for w in _listed(wanted)]
    if base in _NEGATED:
        test = _BASE[_NEGATED[base]]
        return not any(test(w, v) for w in wanted for v in values)
    return any(_BASE[base](w, v) for w in wanted for v in values)


def _conditions_hold(statement: dict, context: Mapping[str, Sequence[str]]) -> bool:
    return all(_condition_holds(operator, key, wanted, context)
               for operator, pairs in statement.get("Condition", {}).items() for key, wanted in pairs.items())


def _statements(policy: dict) -> list[dict]:
    return policy["Statement"] if isinstance(policy["Statement"], list) else [policy["Statement"]]


def evaluate(request: Request, principal: str, identity: Iterable[dict],
             resource_policies: Iterable[dict] = ()) -> Decision:
    """May ``principal`` (a role ARN of the account) make ``request``?"""
    context = {"aws:SecureTransport": ["true"], "aws:PrincipalArn": [principal], **request.context}
    allowed_by: Optional[str] = None
    for policies, is_resource in ((list(identity), False), (list(resource_policies), True)):
        for policy in policies:
            for st in _statements(policy):
                if not (_matches_action(st, request.action) and _matches_resource(st, request.resource)
                        and _matches_principal(st, principal, is_resource) and _conditions_hold(st, context)):
                    continue
                if st["Effect"] == "Deny":
                    return Decision(False, f"explicitly denied by {st.get('Sid') or 'a statement'}")
                allowed_by = allowed_by or st.get("Sid") or "a statement"
    if allowed_by:
        return Decision(True, f"allowed by {allowed_by}")
    return Decision(False, "no statement allows it")
