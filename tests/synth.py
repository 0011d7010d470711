"""Helpers to synthesize constructs and stacks and look inside the Terraform JSON."""

from __future__ import annotations

import json
from pathlib import Path

from constructs_lib import lazy_provider

lazy_provider.install()  # as main.py does: one cheap import of the provider bindings per process

from constructs_lib.config import Settings, settings_from_dict  # noqa: E402


def settings(**overrides) -> Settings:
    """Default settings with a nested dict of overrides, validated like user input."""
    return settings_from_dict(overrides)


def synth_stack(stack) -> dict:
    from constructs_lib.framework import Testing

    return json.loads(Testing.synth(stack))


def resources(doc: dict, rtype: str) -> list[dict]:
    return list(doc.get("resource", {}).get(rtype, {}).values())


def data_sources(doc: dict, dtype: str) -> list[dict]:
    return list(doc.get("data", {}).get(dtype, {}).values())


def one(items: list[dict]) -> dict:
    assert len(items) == 1, f"expected exactly one, got {len(items)}"
    return items[0]


def policy_statements(doc: dict, ref: str) -> list[dict]:
    """Statements of the aws_iam_policy_document that ``ref`` (``${data...json}``) points at."""
    name = ref.removeprefix("${data.aws_iam_policy_document.").removesuffix(".json}")
    return doc["data"]["aws_iam_policy_document"][name]["statement"]


def synth_app(outdir: Path, s: Settings) -> Path:
    from main import build_app

    build_app(s, str(outdir)).synth()
    return outdir / "stacks"


def load_stack(stacks: Path, name: str) -> dict:
    return json.loads((stacks / name / "cdk.tf.json").read_text())


def new_stack(name: str = "test"):
    """An empty stack with the AWS provider, for construct unit tests."""
    from constructs_lib.framework import TerraformStack, Testing
    from constructs_lib.provider import add_aws_provider

    stack = TerraformStack(Testing.app(), name)
    add_aws_provider(stack, region="us-east-1", project="test")
    return stack


def ref(doc: dict, rtype: str, attribute: str, data: bool = False) -> str:
    """The interpolation string for the one ``rtype`` in ``doc``, e.g. ``${aws_vpc.x.id}``."""
    section = doc["data" if data else "resource"][rtype]
    assert len(section) == 1, f"expected one {rtype}, got {len(section)}"
    return "${" + ("data." if data else "") + f"{rtype}.{next(iter(section))}.{attribute}" + "}"


def role_policies(doc: dict, role: str) -> dict:
    """Inline policies of the role whose reference contains ``role``: name -> [(effect, actions, resources)]."""
    return {policy["name"]: [(st["effect"], st["actions"], st["resources"]) for st in policy_statements(doc, policy["policy"])]
            for policy in resources(doc, "aws_iam_role_policy") if role in policy["role"]}


def assert_refused(props_class, props: dict, message: str) -> None:
    """Building ``props_class(**props)`` fails with one line that starts ``<Class>.<message>``."""
    import pytest

    from constructs_lib.validation import ConfigError

    with pytest.raises(ConfigError) as error:
        props_class(**props)
    text = str(error.value)
    assert text.startswith(f"{props_class.__name__}.{message}"), text
    assert "\n" not in text
