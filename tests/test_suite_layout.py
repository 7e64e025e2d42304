"""The suite's own layout: one fixtures module for the factories, no suite leaning on another's
conftest or test module (issue 12, part 5)."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).parent
#: fixtures that make places, accounts and recipients: defined once, in tests/fixtures.py
FACTORIES = {"factory", "signed_in", "new_client", "outbox", "place", "station", "nurse",
             "nurse_account", "supervisor", "reviewer", "person"}


def _modules():
    for path in sorted(TESTS.rglob("*.py")):
        yield path, ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _imported(tree) -> list[str]:
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
        elif isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
    return names


def _is_fixture(node) -> bool:
    for decorator in node.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        if ast.unparse(target) in ("pytest.fixture", "fixture"):
            return True
    return False


def test_no_module_imports_a_conftest_or_a_test_module():
    bad = []
    for path, tree in _modules():
        for module in _imported(tree):
            last = module.rsplit(".", 1)[-1]
            if module.startswith("tests.") and (last == "conftest" or last.startswith("test_")):
                bad.append(f"{path.relative_to(TESTS.parent)}: {module}")
    assert bad == []


def test_the_factories_are_defined_once_in_the_fixtures_module():
    defined = {}
    for path, tree in _modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and node.name in FACTORIES and _is_fixture(node):
                defined.setdefault(node.name, []).append(str(path.relative_to(TESTS.parent)))
    assert defined == {name: ["tests/fixtures.py"] for name in FACTORIES}
