"""The code stays in pieces a reader can hold: modules of about 300 lines, classes of about 150,
constructs with about 8 parameters beside scope and id. A module or class over its size says why
in its docstring, on a line starting ``Size:``."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
SOURCES = sorted([*ROOT.glob("constructs_lib/*.py"), *ROOT.glob("image/ocr_worker/*.py"),
                  *ROOT.glob("fargate_local/*.py"), ROOT / "main.py"])
MODULE_LINES, CLASS_LINES, CONSTRUCT_PARAMETERS = 300, 150, 8


def explained(node) -> bool:
    return any(line.strip().startswith("Size:") for line in (ast.get_docstring(node) or "").splitlines())


@pytest.mark.parametrize("path", SOURCES, ids=[str(p.relative_to(ROOT)) for p in SOURCES])
def test_modules_and_classes_stay_small_or_say_why(path):
    tree = ast.parse(path.read_text())
    lines = len(path.read_text().splitlines())
    assert lines <= MODULE_LINES or explained(tree), f"{path.name}: {lines} lines and no 'Size:' reason"
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            length = node.end_lineno - node.lineno + 1
            assert length <= CLASS_LINES or explained(node), f"{node.name}: {length} lines and no 'Size:' reason"


def test_constructs_take_few_parameters():
    for path in ROOT.glob("constructs_lib/*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and any(getattr(b, "id", "") == "Construct" for b in node.bases):
                init = next((b for b in node.body if isinstance(b, ast.FunctionDef) and b.name == "__init__"), None)
                if init is None:
                    continue
                count = len(init.args.args) + len(init.args.kwonlyargs) - 3  # self, scope, id
                assert count <= CONSTRUCT_PARAMETERS, f"{node.name} takes {count} parameters beside scope and id"
