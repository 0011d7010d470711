"""The code stays in pieces a reader can hold: modules of about 300 lines, classes of about 150,
constructs with about 8 parameters beside scope and id. A module or class over its size says why
in its docstring, on a line starting ``Size:``."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
SOURCES = sorted([*ROOT.glob("constructs_lib/*.py"), *ROOT.glob("constructs_lib/operate/*.py"),
                  *ROOT.glob("image/ocr_worker/*.py"), *ROOT.glob("fargate_local/*.py"), ROOT / "main.py"])
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


def test_help_shows_each_constructs_own_constructor_and_its_attributes():
    """``help(OcrService)`` showed "Creates a new construct node." (constructs' own __init__) for
    six of eight constructors, and no attributes."""
    import importlib
    import inspect
    import pkgutil

    import constructs_lib
    from constructs import Construct

    found = []
    for info in pkgutil.iter_modules(constructs_lib.__path__):
        module = importlib.import_module(f"constructs_lib.{info.name}")
        for cls in vars(module).values():
            if inspect.isclass(cls) and issubclass(cls, Construct) and cls.__module__ == module.__name__ \
                    and not cls.__name__.endswith("Stack"):
                found.append(cls.__name__)
                doc = cls.__init__.__doc__ or ""
                assert doc and doc != Construct.__init__.__doc__, cls.__name__
                assert "Attributes:" in doc, cls.__name__
    assert len(found) >= 10, found
