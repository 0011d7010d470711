"""The synthesized stacks' policies as real IAM JSON, for one concrete deployment.

Terraform renders each ``aws_iam_policy_document`` and fills in ``${...}`` references from state.
:class:`Deployment` does the same from names it chooses (or is given): the statements, actions,
resource patterns and conditions are the synthesized ones, only the referenced values are filled
in. An unknown reference raises, so nothing is silently left out.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Optional

REFERENCE = re.compile(r"\$\{([^}]*)\}")
#: moto's default account, so that the rendered ARNs are the ones moto serves.
ACCOUNT = "123456789012"
FILE_SYSTEM_ID = "fs-0123456789abcdef0"
ACCESS_POINT_ID = "fsap-0123456789abcdef0"
KMS_KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
SCALABLE_TARGET_ID = "0123456789abcdef0123456789abcdef0123"


@dataclass
class Deployment:
    """One deployment of a synthesized service stack.

    ``names`` overrides the names of resources by the end of their construct path, e.g.
    ``{"documents/input/bucket": "in-1", "documents/queue": "jobs-1"}``; the rest get the name
    the stack gives them (a ``bucket_prefix`` gets ``test`` appended)."""

    doc: dict
    names: dict[str, str] = field(default_factory=dict)
    account: str = ACCOUNT
    region: str = "us-east-1"
    partition: str = "aws"

    # -- names -----------------------------------------------------------------------------------

    def _config(self, kind: str, rtype: str, name: str) -> dict:
        try:
            return self.doc[kind][rtype][name]
        except KeyError:
            raise KeyError(f"the stack has no {kind} {rtype}.{name}") from None

    def name_of(self, rtype: str, name: str, data: bool = False) -> str:
        config = self._config("data" if data else "resource", rtype, name)
        path = config.get("//", {}).get("metadata", {}).get("path", "")
        for suffix, given in self.names.items():
            if path.endswith("/" + suffix):
                return given
        for key in ("bucket", "name", "alarm_name", "dashboard_name"):
            if isinstance(config.get(key), str):
                return self.fill(config[key])
        if "bucket_prefix" in config:
            return config["bucket_prefix"] + "test"
        raise KeyError(f"no name for {rtype}.{name}")

    def _named(self, path_suffix: str) -> tuple[str, str, bool]:
        """(type, name, data) of the one resource or data source whose path ends ``path_suffix``."""
        found = [(rtype, name, kind == "data") for kind in ("resource", "data")
                 for rtype, items in self.doc.get(kind, {}).items() for name, config in items.items()
                 if config.get("//", {}).get("metadata", {}).get("path", "").endswith("/" + path_suffix)]
        assert len(found) == 1, f"{len(found)} resources end with {path_suffix}"
        return found[0]

    def name_at(self, path_suffix: str) -> str:
        return self.name_of(*self._named(path_suffix))

    @property
    def input_bucket(self) -> str:
        return self.name_at("documents/input/bucket" if "aws_s3_bucket" not in self.doc.get("data", {})
                            else "documents/input")

    @property
    def output_bucket(self) -> str:
        return self.name_at("documents/output/bucket")

    @property
    def queue(self) -> str:
        return self.name_at("documents/queue")

    @property
    def dlq(self) -> str:
        return self.name_at("documents/dlq")

    def arn(self, service: str, resource: str, region: Optional[str] = None, account: Optional[str] = None) -> str:
        region = self.region if region is None else region
        account = self.account if account is None else account
        return f"arn:{self.partition}:{service}:{region}:{account}:{resource}"

    def s3_arn(self, bucket: str, key: Optional[str] = None) -> str:
        return f"arn:{self.partition}:s3:::{bucket}" + (f"/{key}" if key is not None else "")

    def queue_arn(self, name: str) -> str:
        return self.arn("sqs", name)

    @property
    def file_system_arn(self) -> str:
        return self.arn("elasticfilesystem", f"file-system/{FILE_SYSTEM_ID}")

    @property
    def access_point_arn(self) -> str:
        return self.arn("elasticfilesystem", f"access-point/{ACCESS_POINT_ID}")

    @property
    def scalable_target_arn(self) -> str:
        return self.arn("application-autoscaling", f"scalable-target/{SCALABLE_TARGET_ID}")

    # -- references ------------------------------------------------------------------------------

    def resolve(self, expression: str) -> str:
        """The value of one ``${...}`` expression."""
        parts = expression.split(".")
        data = parts[0] == "data"
        if data:
            parts = parts[1:]
        rtype, name, attribute = parts[0], parts[1], ".".join(parts[2:])
        if rtype == "aws_caller_identity":
            return self.account
        if rtype == "aws_partition":
            return self.partition
        if rtype == "aws_region":
            return self.region
        if rtype == "terraform_remote_state":
            return self._remote_output(attribute)
        if rtype == "aws_iam_policy_document" and attribute == "json":
            return json.dumps(self.policy_document(name))
        if rtype == "aws_efs_file_system":
            return {"arn": self.file_system_arn, "id": FILE_SYSTEM_ID}[attribute]
        if rtype == "aws_efs_access_point":
            return {"arn": self.access_point_arn, "id": ACCESS_POINT_ID}[attribute]
        if rtype == "aws_appautoscaling_target":
            return {"arn": self.scalable_target_arn}[attribute]
        resource = self.name_of(rtype, name, data)
        values = {
            "aws_s3_bucket": {"arn": self.s3_arn(resource), "bucket": resource, "id": resource},
            "aws_sqs_queue": {"arn": self.queue_arn(resource), "name": resource,
                              "url": f"https://sqs.{self.region}.amazonaws.com/{self.account}/{resource}",
                              "id": f"https://sqs.{self.region}.amazonaws.com/{self.account}/{resource}"},
            "aws_ecs_cluster": {"arn": self.arn("ecs", f"cluster/{resource}"), "name": resource},
            "aws_ecs_service": {"name": resource},
            "aws_cloudwatch_log_group": {"arn": self.arn("logs", f"log-group:{resource}"), "name": resource},
            "aws_ecr_repository": {"arn": self.arn("ecr", f"repository/{resource}"), "name": resource,
                                   "repository_url": f"{self.account}.dkr.ecr.{self.region}.amazonaws.com/{resource}"},
            "aws_sns_topic": {"arn": self.arn("sns", resource), "name": resource},
            "aws_cloudwatch_event_rule": {"arn": self.arn("events", f"rule/{resource}"), "name": resource},
            "aws_iam_role": {"arn": f"arn:{self.partition}:iam::{self.account}:role/{resource}", "name": resource},
        }.get(rtype, {})
        if rtype == "aws_kms_key":
            values = {"arn": self.arn("kms", f"key/{KMS_KEY_ID}"), "key_id": KMS_KEY_ID, "id": KMS_KEY_ID}
        if attribute not in values:
            raise KeyError(f"cannot resolve ${{{expression}}}")
        return values[attribute]

    def _remote_output(self, attribute: str) -> str:
        output = attribute.removeprefix("outputs.")
        if "efs_file_system" in output:
            return {"arn": self.file_system_arn, "id": FILE_SYSTEM_ID}[_attribute_suffix(output)]
        if "efs_access_point" in output:
            return {"arn": self.access_point_arn, "id": ACCESS_POINT_ID}[_attribute_suffix(output)]
        raise KeyError(f"cannot resolve the remote state output {output}")

    def fill(self, value: Any) -> Any:
        """``value`` (a string, list or dict) with every ``${...}`` filled in."""
        if isinstance(value, str):
            return REFERENCE.sub(lambda m: self.resolve(m.group(1)), value)
        if isinstance(value, list):
            return [self.fill(v) for v in value]
        if isinstance(value, dict):
            return {k: self.fill(v) for k, v in value.items()}
        return value

    # -- policies --------------------------------------------------------------------------------

    def policy_document(self, name: str) -> dict:
        """The ``aws_iam_policy_document`` data source ``name`` as IAM JSON."""
        statements = []
        for st in self._config("data", "aws_iam_policy_document", name)["statement"]:
            out: dict[str, Any] = {"Sid": st.get("sid", ""), "Effect": st.get("effect", "Allow"),
                                   "Action": _scalar(self.fill(st["actions"]))}
            if st.get("resources"):
                out["Resource"] = _scalar(self.fill(st["resources"]))
            if st.get("principals"):
                out["Principal"] = {p["type"]: _scalar(self.fill(p["identifiers"])) for p in st["principals"]}
            if st.get("condition"):
                conditions: dict[str, dict[str, Any]] = {}
                for c in st["condition"]:
                    conditions.setdefault(c["test"], {})[c["variable"]] = _scalar(self.fill(c["values"]))
                out["Condition"] = conditions
            statements.append(out)
        return {"Version": "2012-10-17", "Statement": statements}

    def policy(self, value: str) -> dict:
        """A ``policy`` argument: a ``${data.aws_iam_policy_document.X.json}`` reference or inline JSON."""
        return json.loads(self.fill(value))

    def role_policies(self, role_path_suffix: str) -> dict[str, dict]:
        """The inline policies of the role at ``role_path_suffix`` (``roles/task-role``): name -> JSON."""
        rtype, name, _ = self._named(role_path_suffix)
        ref = f"${{{rtype}.{name}.name}}"
        return {p["name"]: self.policy(p["policy"]) for p in self.doc["resource"].get("aws_iam_role_policy", {}).values()
                if p["role"] == ref}

    def trust_policy(self, role_path_suffix: str) -> dict:
        rtype, name, _ = self._named(role_path_suffix)
        return self.policy(self._config("resource", rtype, name)["assume_role_policy"])

    def resource_policies(self) -> dict[str, dict]:
        """Every resource policy of the stack: bucket, queue, topic and key policies, by address."""
        policies = {}
        for rtype in ("aws_s3_bucket_policy", "aws_sqs_queue_policy", "aws_sns_topic_policy", "aws_kms_key",
                      "aws_efs_file_system_policy"):
            for name, config in self.doc.get("resource", {}).get(rtype, {}).items():
                if "policy" in config:
                    policies[f"{rtype}.{name}"] = self.policy(config["policy"])
        return policies

    def all_policies(self) -> dict[str, dict]:
        """Every policy document of the stack: each role's trust and inline policies
        (``<role name>:trust``, ``<role name>:<policy name>``), each managed policy
        (``managed:<name>``) and every resource policy."""
        policies = {}
        for name, role in self.doc.get("resource", {}).get("aws_iam_role", {}).items():
            path = role["//"]["metadata"]["path"].split("/", 1)[1]
            label = self.name_of("aws_iam_role", name)
            policies[f"{label}:trust"] = self.trust_policy(path)
            policies.update({f"{label}:{k}": v for k, v in self.role_policies(path).items()})
        for name, managed in self.doc.get("resource", {}).get("aws_iam_policy", {}).items():
            policies[f"managed:{self.name_of('aws_iam_policy', name)}"] = self.policy(managed["policy"])
        return {**policies, **self.resource_policies()}

    def task_definition(self) -> dict:
        """The task definition's containers (rendered) and its EFS volumes."""
        [task] = self.doc["resource"]["aws_ecs_task_definition"].values()
        return {"containers": json.loads(self.fill(task["container_definitions"])),
                "volumes": self.fill(task.get("volume", []))}

    @property
    def exec_enabled(self) -> bool:
        [service] = self.doc["resource"]["aws_ecs_service"].values()
        return bool(service.get("enable_execute_command"))

    @property
    def cluster(self) -> str:
        return self.name_at("ocr/cluster")

    @property
    def model_source(self) -> str:
        worker = next(c for c in self.task_definition()["containers"] if c["name"] == "model-warmer")
        return {e["name"]: e["value"] for e in worker["environment"]}["OCR_MODEL_SOURCE"]


def _scalar(values: list) -> Any:
    """One value as itself, several as a list: how the provider renders a policy document."""
    return values[0] if len(values) == 1 else values


def _attribute_suffix(output: str) -> str:
    """``...access-point_A1B2C3D4arn`` -> ``arn``: cdktf appends the attribute to the output name."""
    return "arn" if output.endswith("arn") else "id"
