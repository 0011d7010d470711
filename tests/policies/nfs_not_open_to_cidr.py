"""checkov custom check CKV_PADDLE_1: NFS (TCP 2049) must never be reachable from a CIDR.

checkov has no such rule. EFS mount targets must only admit named security groups; a CIDR source,
even a private one, admits every host in that range.
"""

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck

NFS = 2049


def _first(value):
    return value[0] if isinstance(value, list) and value else value


def _covers_nfs(rule: dict) -> bool:
    protocol = str(_first(rule.get("ip_protocol", rule.get("protocol", ["tcp"])))).lower()
    if protocol in ("-1", "all"):
        return True
    if protocol not in ("tcp", "6"):
        return False
    try:
        low, high = int(_first(rule.get("from_port", [0]))), int(_first(rule.get("to_port", [65535])))
    except (TypeError, ValueError):
        return True  # an unresolved expression: assume the worst
    return low <= NFS <= high


def _has_cidr(rule: dict) -> bool:
    return any(_first(rule.get(key)) not in (None, [], "") for key in
               ("cidr_blocks", "ipv6_cidr_blocks", "cidr_ipv4", "cidr_ipv6"))


class NfsNotOpenToCidr(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="Ensure NFS port 2049 is not open to a CIDR range",
            id="CKV_PADDLE_1",
            categories=[CheckCategories.NETWORKING],
            supported_resources=["aws_security_group", "aws_security_group_rule",
                                 "aws_vpc_security_group_ingress_rule"],
        )

    def scan_resource_conf(self, conf: dict) -> CheckResult:
        if self.entity_type == "aws_security_group":
            rules = [r for r in conf.get("ingress", []) if isinstance(r, dict)]
        elif self.entity_type == "aws_security_group_rule":
            rules = [conf] if _first(conf.get("type")) == "ingress" else []
        else:
            rules = [conf]
        for rule in rules:
            if _covers_nfs(rule) and _has_cidr(rule):
                return CheckResult.FAILED
        return CheckResult.PASSED


check = NfsNotOpenToCidr()
