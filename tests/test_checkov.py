"""checkov finds nothing in any stack, skips live in .checkov.yaml, and our NFS check really fires."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.synth import settings, synth_app

pytestmark = [pytest.mark.scan, pytest.mark.slow]
ROOT = Path(__file__).resolve().parent.parent


def checkov(directory: Path) -> dict:
    exe = shutil.which("checkov") or str(ROOT / ".venv-scan/bin/checkov")
    if not os.path.exists(exe):
        pytest.fail("checkov is not installed: run `make setup`")
    result = subprocess.run([exe, "-d", str(directory), "--config-file", str(ROOT / ".checkov.yaml"), "-o", "json"],
                            capture_output=True, text=True, cwd=ROOT, timeout=600)
    report = json.loads(result.stdout)
    reports = report if isinstance(report, list) else [report]
    return {"failed": [c for r in reports for c in r["results"]["failed_checks"]],
            "passed": [c for r in reports for c in r["results"]["passed_checks"]]}


def summary(failed):
    return "\n".join(f"{c['check_id']} {c['resource']} ({c['file_path']})" for c in failed)


def test_default_stacks_have_no_failed_checks(default_stacks):
    result = checkov(default_stacks)
    assert result["failed"] == [], summary(result["failed"])
    assert any(c["check_id"] == "CKV_PADDLE_1" for c in result["passed"]), "the custom NFS check did not run"


def test_existing_vpc_and_efs_variant_has_no_failed_checks(tmp_path):
    stacks = synth_app(tmp_path, settings(
        network={"vpc_id": "vpc-0abc", "private_subnet_ids": ["subnet-01", "subnet-02"]},
        model_cache={"existing_file_system_id": "fs-0abc", "create_mount_targets": True}))
    result = checkov(stacks)
    assert result["failed"] == [], summary(result["failed"])


NFS_CASES = {
    "rule-resource-cidr": ("aws_vpc_security_group_ingress_rule",
                           {"security_group_id": "sg-1", "ip_protocol": "tcp", "from_port": 2049, "to_port": 2049,
                            "cidr_ipv4": "10.0.0.0/8"}, "FAILED"),
    "rule-resource-sg-source": ("aws_vpc_security_group_ingress_rule",
                                {"security_group_id": "sg-1", "ip_protocol": "tcp", "from_port": 2049,
                                 "to_port": 2049, "referenced_security_group_id": "sg-2"}, "PASSED"),
    "inline-all-ports-cidr": ("aws_security_group",
                              {"name": "x", "ingress": [{"from_port": 0, "to_port": 0, "protocol": "-1",
                                                         "cidr_blocks": ["0.0.0.0/0"]}]}, "FAILED"),
    "inline-range-covering-nfs": ("aws_security_group",
                                  {"name": "x", "ingress": [{"from_port": 2000, "to_port": 2100, "protocol": "tcp",
                                                             "cidr_blocks": ["10.0.0.0/16"]}]}, "FAILED"),
    "inline-https-cidr": ("aws_security_group",
                          {"name": "x", "ingress": [{"from_port": 443, "to_port": 443, "protocol": "tcp",
                                                     "cidr_blocks": ["10.0.0.0/16"]}]}, "PASSED"),
    "legacy-rule-cidr": ("aws_security_group_rule",
                         {"type": "ingress", "security_group_id": "sg-1", "protocol": "tcp", "from_port": 2049,
                          "to_port": 2049, "cidr_blocks": ["192.168.0.0/16"]}, "FAILED"),
    "legacy-egress-rule-cidr": ("aws_security_group_rule",
                                {"type": "egress", "security_group_id": "sg-1", "protocol": "tcp", "from_port": 2049,
                                 "to_port": 2049, "cidr_blocks": ["10.0.0.0/16"]}, "PASSED"),
}


def test_custom_nfs_check_compliant_and_non_compliant_cases(tmp_path):
    for name, (rtype, body, _) in NFS_CASES.items():
        stack = tmp_path / name
        stack.mkdir()
        (stack / "cdk.tf.json").write_text(json.dumps({"resource": {rtype: {"r": body}}}))
    result = checkov(tmp_path)
    outcome = {}
    for state in ("failed", "passed"):
        for c in result[state]:
            if c["check_id"] == "CKV_PADDLE_1":
                outcome[Path(c["file_path"]).parent.name] = state.upper()
    assert outcome == {name: expected for name, (_, _, expected) in NFS_CASES.items()}
