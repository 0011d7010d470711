"""The default synth, byte for byte. After an intended change: `make golden`, then review the diff.

The image tag is the content hash of image/ (tested in test_service.py); it is replaced by a
placeholder here so that a change to the worker's code does not churn the infrastructure golden."""

import json
import os
from pathlib import Path

import pytest

from constructs_lib.image_repository import content_hash

GOLDEN = Path(__file__).parent / "golden"
IMAGE_DIR = Path(__file__).resolve().parent.parent / "image"


def normalized(path: Path) -> str:
    return path.read_text().replace(content_hash(IMAGE_DIR), "IMAGE_CONTENT_HASH")


def framework_neutral(stack: dict) -> dict:
    """The two differences between cdktf's and cdktn's JSON, and nothing else: the framework's
    version stamp, and the provider source ("aws" and "hashicorp/aws" are the same address)."""
    stack = json.loads(json.dumps(stack))
    stack["//"]["metadata"]["version"] = "FRAMEWORK_VERSION"
    stack["terraform"]["required_providers"]["aws"]["source"] = "hashicorp/aws"
    return stack


def test_default_synth_matches_golden(default_stacks):
    stacks = sorted(p.name for p in default_stacks.iterdir())
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.mkdir(exist_ok=True)
        for old in GOLDEN.glob("*.json"):
            old.unlink()
        for name in stacks:
            (GOLDEN / f"{name}.json").write_text(normalized(default_stacks / name / "cdk.tf.json"))
    assert stacks == sorted(p.stem for p in GOLDEN.glob("*.json")), "stacks differ from tests/golden: run `make golden`"
    for name in stacks:
        # The golden files are cdktf's; make test-cdktn compares cdktn's synth with them too.
        got = framework_neutral(json.loads(normalized(default_stacks / name / "cdk.tf.json")))
        want = framework_neutral(json.loads((GOLDEN / f"{name}.json").read_text()))
        if got != want:
            pytest.fail(f"stack {name} differs from tests/golden/{name}.json; if intended, run `make golden` "
                        f"and review `git diff tests/golden`")
