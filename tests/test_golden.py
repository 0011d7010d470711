"""The default synth, byte for byte. After an intended change: `make golden`, then review the diff."""

import json
import os
from pathlib import Path

import pytest

GOLDEN = Path(__file__).parent / "golden"


def test_default_synth_matches_golden(default_stacks):
    stacks = sorted(p.name for p in default_stacks.iterdir())
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.mkdir(exist_ok=True)
        for old in GOLDEN.glob("*.json"):
            old.unlink()
        for name in stacks:
            (GOLDEN / f"{name}.json").write_text((default_stacks / name / "cdk.tf.json").read_text())
    assert stacks == sorted(p.stem for p in GOLDEN.glob("*.json")), "stacks differ from tests/golden: run `make golden`"
    for name in stacks:
        got = json.loads((default_stacks / name / "cdk.tf.json").read_text())
        want = json.loads((GOLDEN / f"{name}.json").read_text())
        if got != want:
            pytest.fail(f"stack {name} differs from tests/golden/{name}.json; if intended, run `make golden` "
                        f"and review `git diff tests/golden`")
