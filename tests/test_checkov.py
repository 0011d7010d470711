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
    # A stack checkov cannot parse is not scanned at all, and reports no failed check.
    unparsed = sum(r["summary"]["parsing_errors"] for r in reports)
    assert unparsed == 0, f"checkov could not parse {unparsed} file(s) under {directory}:\n{result.stderr[-2000:]}"
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
        network={"vpc_id": "vpc-0123456789abcdef0",
                 "private_subnet_ids": ["subnet-0123456789abcdef1", "subnet-0123456789abcdef2"]},
        model_cache={"existing_file_system_id": "fs-0123456789abcdef0", "create_mount_targets": True}))
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


# -- the AWS rules that moto and checkov's own checks miss, one rule per file in tests/policies --

def _task(containers, volumes=(), exec_enabled=None):
    doc = {"resource": {"aws_ecs_task_definition": {"t": {
        "family": "f", "container_definitions": json.dumps(containers), "volume": list(volumes)}}}}
    if exec_enabled is not None:
        doc["resource"]["aws_ecs_service"] = {"s": {"name": "s", "task_definition": "${aws_ecs_task_definition.t.arn}",
                                                    "enable_execute_command": exec_enabled}}
    return doc


def _topic(key):
    return {"resource": {
        "aws_kms_key": {"k": {"enable_key_rotation": True}},
        "aws_sns_topic": {"t": {"name": "t", "kms_master_key_id": key}},
        "aws_cloudwatch_metric_alarm": {"a": {"alarm_name": "a", "comparison_operator": "GreaterThanThreshold",
                                              "evaluation_periods": 1, "alarm_actions": ["${aws_sns_topic.t.arn}"]}}}}


SCRATCH = {"sourceVolume": "scratch", "containerPath": "/tmp"}
INIT = {"initProcessEnabled": True}
#: case -> (rule, the Terraform JSON, expected); each case holds one resource the rule applies to.
RULE_CASES = {
    # CKV2_PADDLE_2: alarms cannot publish to a topic under the AWS-managed SNS key.
    "alarm-topic-aws-managed-key": ("CKV2_PADDLE_2", _topic("alias/aws/sns"), "FAILED"),
    # A key reference is unresolved for checkov's graph, which then reports no result: not FAILED.
    "alarm-topic-customer-key": ("CKV2_PADDLE_2", _topic("${aws_kms_key.k.arn}"), None),
    # CKV2_PADDLE_3: ECS Exec needs an init process and a writable root in every container.
    "exec-read-only-root": ("CKV2_PADDLE_3", _task(
        [{"name": "a", "readonlyRootFilesystem": True, "linuxParameters": INIT}], exec_enabled=True), "FAILED"),
    "exec-without-init": ("CKV2_PADDLE_3", _task(
        [{"name": "a", "readonlyRootFilesystem": False}], exec_enabled=True), "FAILED"),
    "exec-one-of-two-read-only": ("CKV2_PADDLE_3", _task(
        [{"name": "a", "readonlyRootFilesystem": False, "linuxParameters": INIT},
         {"name": "b", "readonlyRootFilesystem": True, "linuxParameters": INIT}], exec_enabled=True), "FAILED"),
    "exec-init-and-writable": ("CKV2_PADDLE_3", _task(
        [{"name": "a", "readonlyRootFilesystem": False, "linuxParameters": INIT}], exec_enabled=True), "PASSED"),
    "no-exec-read-only": ("CKV2_PADDLE_3", _task(
        [{"name": "a", "readonlyRootFilesystem": True}], exec_enabled=False), "PASSED"),
    # CKV_PADDLE_4: Fargate bind mounts are root:root 0755 unless the image declares VOLUME there.
    "bind-writable-non-root": ("CKV_PADDLE_4", _task(
        [{"name": "a", "user": "1000:1000", "mountPoints": [SCRATCH]}], [{"name": "scratch"}]), "FAILED"),
    "bind-writable-non-root-declared": ("CKV_PADDLE_4", _task(
        [{"name": "a", "user": "1000:1000", "mountPoints": [SCRATCH],
          "dockerLabels": {"org.paddleocr-efs.image-volumes": "/tmp"}}], [{"name": "scratch"}]), "PASSED"),
    "bind-read-only-non-root": ("CKV_PADDLE_4", _task(
        [{"name": "a", "user": "1000:1000", "mountPoints": [{**SCRATCH, "readOnly": True}]}], [{"name": "scratch"}]),
        "PASSED"),
    "bind-writable-root": ("CKV_PADDLE_4", _task(
        [{"name": "a", "user": "0", "mountPoints": [SCRATCH]}], [{"name": "scratch"}]), "PASSED"),
    "efs-writable-non-root": ("CKV_PADDLE_4", _task(
        [{"name": "a", "user": "1000:1000", "mountPoints": [SCRATCH]}],
        [{"name": "scratch", "efs_volume_configuration": {"file_system_id": "fs-1"}}]), "PASSED"),
    # CKV2_PADDLE_5: every queue has a (TLS-only) queue policy.
    "queue-without-policy": ("CKV2_PADDLE_5", {"resource": {"aws_sqs_queue": {"q": {"name": "q"}}}},
                             "FAILED"),
    "queue-with-policy": ("CKV2_PADDLE_5", {"resource": {
        "aws_sqs_queue": {"q": {"name": "q"}},
        "aws_sqs_queue_policy": {"p": {"queue_url": "${aws_sqs_queue.q.url}", "policy": "{}"}}}}, "PASSED"),
}


def test_custom_aws_rules_compliant_and_non_compliant_cases(tmp_path):
    for name, (_, doc, _) in RULE_CASES.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "cdk.tf.json").write_text(json.dumps(doc))
    result = checkov(tmp_path)
    outcome = {}
    for state in ("failed", "passed"):
        for c in result[state]:
            case = Path(c["file_path"]).parent.name
            if case in RULE_CASES and c["check_id"] == RULE_CASES[case][0]:
                outcome[case] = state.upper()
    assert outcome == {name: expected for name, (_, _, expected) in RULE_CASES.items() if expected}
    assert all(outcome.get(name) != "FAILED" for name, (_, _, expected) in RULE_CASES.items() if not expected)


def test_every_custom_rule_runs_on_the_default_stacks(default_stacks):
    result = checkov(default_stacks)
    assert {"CKV_PADDLE_1", "CKV2_PADDLE_3", "CKV_PADDLE_4", "CKV2_PADDLE_5"} <= {c["check_id"] for c in result["passed"]}
    assert not [c for c in result["failed"] if c["check_id"] == "CKV2_PADDLE_2"]  # see alarm-topic-customer-key
