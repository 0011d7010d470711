"""Every Python block in the README runs, as written; every operator command in it is run by a test."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
BLOCKS = re.findall(r"^```python\n(.*?)^```", README, re.M | re.S)


def test_the_readme_has_python_examples():
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_python_block_runs(index, tmp_path):
    exec(compile(BLOCKS[index], f"README.md python block {index + 1}", "exec"), {"tmp_path": tmp_path})


def test_every_operating_command_parses_and_runs_in_the_e2e_tier():
    """The README's Operating block: each `paddleocr-efs` line parses, and its command and every
    flag it uses are ones tests/e2e/test_deploy.py runs against the deployed stacks."""
    import re
    import shlex

    from constructs_lib.operate.cli import parser

    section = README.split("## Operating", 1)[1].split("\n## ", 1)[0]
    block = section.split("```sh", 1)[1].split("```", 1)[0]
    e2e = (ROOT / "tests" / "e2e" / "test_deploy.py").read_text()
    lines = [line.split("#", 1)[0].strip() for line in block.strip().splitlines()]
    assert len(lines) >= 8
    for line in lines:
        words = shlex.split(line)
        assert words[0] == "paddleocr-efs", line
        parser().parse_args(words[1:])
        assert f'cli("{words[1]}"' in e2e, f"{words[1]} is not run by the e2e tier"
        for flag in (w for w in words if w.startswith("--")):
            assert f'"{flag}"' in e2e, f"{line}: {flag} is not run by the e2e tier"
    for target in re.findall(r"`make (deploy|diff|destroy)\b", section):
        assert f'make("{target}"' in e2e, f"make {target} is not run by the e2e tier"
