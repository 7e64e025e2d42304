"""The house's structure rules, checked over the source (one place for each rule, P1).

Every module of ``vaxportal/`` is imported, then read as a Python AST; every template is
parsed by the app's own Jinja environment. A module or template breaks the rules when:

* **it compares a role** outside ``vaxportal/policy/``: a comparison (``==``, ``!=``,
  ``in``, ``not in``, ``is``, ``<``, ...) one of whose sides holds ``Role`` or ``Role.x``,
  an attribute named ``role`` (``account.role``) or a variable named ``role``. Who may do
  what is asked of the policy (``has_perm``, ``is_admin``, ``is_role``,
  ``delegation.may_receive_delegation``, ...); a template calls the template globals
  ``policy.init_app`` gives it;
* **it builds a scope condition** outside ``vaxportal/policy/``: it calls one of the scope's
  building blocks (``subtree_ids``, ``scope_facility_ids``, ``delegated_facility_ids``),
  or it compares or tests a delegation's period (``Delegation.starts_on``, ``ends_on``,
  ``ended_at`` in a comparison or with ``.is_`` / ``.is_not`` / ``.between``): which
  facilities an account reads or writes, and which delegations are active, is the
  ``Scope``'s and ``policy.delegation``'s to say (``scope().filter``, ``contains``,
  ``contains_many``, ``delegation.is_active``);
* **it names an htmx header** outside ``vaxportal/htmx.py``: a string (docstrings aside)
  that starts with ``hx-`` in any case but all lower case (``HX-Trigger``, ``Hx-Request``),
  or is one of htmx's header names in lower case that is not also an htmx attribute
  (``hx-request``; ``hx-target`` is an attribute a form may carry).
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest
from jinja2 import nodes

import vaxportal

ROOT = Path(vaxportal.__file__).resolve().parent
TEMPLATES = ROOT.parent / "templates"
POLICY = ROOT / "policy"
HTMX = ROOT / "htmx.py"

SCOPE_BUILDERS = frozenset({"subtree_ids", "scope_facility_ids", "delegated_facility_ids",
                            "path_range_ids", "subtree_bounds"})
DELEGATION_PERIOD = frozenset({"starts_on", "ends_on", "ended_at"})
PERIOD_TESTS = frozenset({"is_", "is_not", "isnot", "between"})
#: htmx 1.9's request and response headers
HTMX_HEADERS = frozenset(name.lower() for name in (
    "HX-Boosted", "HX-Current-URL", "HX-History-Restore-Request", "HX-Prompt", "HX-Request",
    "HX-Target", "HX-Trigger-Name", "HX-Trigger", "HX-Location", "HX-Push-Url", "HX-Redirect",
    "HX-Refresh", "HX-Replace-Url", "HX-Reswap", "HX-Retarget", "HX-Reselect",
    "HX-Trigger-After-Settle", "HX-Trigger-After-Swap",
))
#: htmx attributes spelled like a header (``render_kw={"hx-target": ...}`` is no header)
HTMX_ATTRIBUTES = frozenset({"hx-boosted", "hx-prompt", "hx-target", "hx-trigger",
                             "hx-push-url", "hx-replace-url", "hx-reselect"})


# -- the checks, each over one parsed module ------------------------------------------------


def _mentions_role(node: ast.AST) -> bool:
    for part in ast.walk(node):
        if isinstance(part, ast.Name) and part.id in ("Role", "role"):
            return True
        if isinstance(part, ast.Attribute) and part.attr == "role":
            return True
    return False


def role_comparisons(tree: ast.AST) -> list[int]:
    """Lines of comparisons that involve a role."""
    return [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Compare)
            and any(_mentions_role(side) for side in (node.left, *node.comparators))]


def _is_period_column(node: ast.AST) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr in DELEGATION_PERIOD
            and isinstance(node.value, ast.Name) and node.value.id == "Delegation")


def _called_name(node: ast.Call) -> str | None:
    func = node.func
    return func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)


def _builds_scope(node: ast.AST) -> bool:
    if isinstance(node, ast.Compare):
        return any(_is_period_column(side) for side in (node.left, *node.comparators))
    if not isinstance(node, ast.Call):
        return False
    if _called_name(node) in SCOPE_BUILDERS:
        return True
    return (isinstance(node.func, ast.Attribute) and node.func.attr in PERIOD_TESTS
            and _is_period_column(node.func.value))


def scope_conditions(tree: ast.AST) -> list[int]:
    """Lines that build a scope condition: a call of a scope building block, or a test of a
    delegation's period."""
    return [node.lineno for node in ast.walk(tree) if _builds_scope(node)]


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def _names_header(text: str) -> bool:
    if text[:3].lower() != "hx-":
        return False
    return text != text.lower() or (text in HTMX_HEADERS and text not in HTMX_ATTRIBUTES)


def htmx_headers(tree: ast.AST) -> list[int]:
    """Lines of strings naming an htmx header (docstrings aside)."""
    docstrings = _docstrings(tree)
    return [node.lineno for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and id(node) not in docstrings and _names_header(node.value.strip())]


# -- the checks at work on small samples: each rule catches what it names -------------------


@pytest.mark.parametrize("source", [
    "account.role == Role.data_entry",
    "current_user.role != 'admin'",
    "account.role in SUBTREE_ROLES",
    "role == Role.admin and kind not in KINDS",
    "x not in Role.__members__",
    "Role.reviewer is account.role",
])
def test_p1_a_role_comparison_is_caught(source):
    assert role_comparisons(ast.parse(source)) == [1]


@pytest.mark.parametrize("source", [
    "has_perm(account, Perm.read_recipients)",
    "labels = {Role.admin: 'Quản trị'}",
    "form.role.data",
    "policy.is_admin(account)",
])
def test_p1_asking_the_policy_is_not_a_role_comparison(source):
    assert role_comparisons(ast.parse(source)) == []


@pytest.mark.parametrize("source", [
    "stmt.where(Recipient.facility_id.in_(subtree_ids(account.facility_id)))",
    "ids = policy.scope_facility_ids(account)",
    "tree.subtree_ids(1)",
    "sa.select(Delegation).where(Delegation.ends_on >= today)",
    "sa.select(Delegation).where(Delegation.ended_at.is_(None))",
    "today <= Delegation.starts_on",
])
def test_p1_a_scope_condition_outside_the_policy_is_caught(source):
    assert scope_conditions(ast.parse(source)) == [1]


@pytest.mark.parametrize("source", [
    "policy.scope().filter(stmt, Recipient.facility_id)",
    "policy.scope().writable.contains_many(ids)",
    "sa.select(Account).where(Account.facility_id.in_(ids))",
    "delegation.ended_at = now",
    "stmt.order_by(Delegation.starts_on.desc())",
])
def test_p1_using_the_scope_is_not_building_one(source):
    assert scope_conditions(ast.parse(source)) == []


@pytest.mark.parametrize("source", [
    "request.headers.get('HX-Trigger')",
    "response.headers['HX-Redirect'] = url",
    "response.vary.add('hx-request')",
])
def test_an_htmx_header_outside_htmx_py_is_caught(source):
    assert htmx_headers(ast.parse(source)) == [1]


def test_docstrings_and_hx_attributes_are_not_headers():
    source = '"""Answers with HX-Retarget: #flashes."""\nkw = {"hx-post": url, "hx-target": "#x"}'
    assert htmx_headers(ast.parse(source)) == []


# -- the whole package --------------------------------------------------------------------


def _module_names() -> list[str]:
    names = ["vaxportal"]
    for info in pkgutil.walk_packages([str(ROOT)], prefix="vaxportal."):
        names.append(info.name)
    return sorted(names)


def _sources() -> list[Path]:
    return sorted(ROOT.rglob("*.py"))


def test_every_module_imports():
    for name in _module_names():
        importlib.import_module(name)


def _broken(check, allowed) -> list[str]:
    found = []
    for path in _sources():
        if allowed(path):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        found += [f"{path.relative_to(ROOT.parent)}:{line}" for line in check(tree)]
    return found


def _in_policy(path: Path) -> bool:
    return POLICY in path.parents


def test_p1_no_module_outside_the_policy_compares_a_role():
    assert _broken(role_comparisons, _in_policy) == []


def test_p1_no_module_outside_the_policy_builds_a_scope_condition():
    assert _broken(scope_conditions, _in_policy) == []


def test_no_module_but_htmx_py_names_an_htmx_header():
    assert _broken(htmx_headers, lambda path: path == HTMX) == []


# -- templates ----------------------------------------------------------------------------


def _template_mentions_role(node: nodes.Node) -> bool:
    for part in [node, *node.find_all((nodes.Name, nodes.Getattr, nodes.Getitem))]:
        if isinstance(part, nodes.Name) and part.name in ("role", "Role"):
            return True
        if isinstance(part, nodes.Getattr) and part.attr == "role":
            return True
        if (isinstance(part, nodes.Getitem) and isinstance(part.arg, nodes.Const)
                and part.arg.value == "role"):
            return True
    return False


def template_role_comparisons(parsed: nodes.Template) -> list[int]:
    return [compare.lineno for compare in parsed.find_all(nodes.Compare)
            if any(_template_mentions_role(side)
                   for side in (compare.expr, *(op.expr for op in compare.ops)))]


def test_p1_a_template_role_comparison_is_caught(app):
    source = "{% if current.role == 'admin' %}x{% endif %}\n{{ 'a' if role in roles }}"
    assert template_role_comparisons(app.jinja_env.parse(source)) == [1, 2]
    labels = "{{ role_labels.get(account.role, account.role) }}"
    assert template_role_comparisons(app.jinja_env.parse(labels)) == []


def test_p1_no_template_compares_a_role(app):
    found = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        parsed = app.jinja_env.parse(path.read_text(encoding="utf-8"))
        found += [f"{path.relative_to(TEMPLATES)}:{line}"
                  for line in template_role_comparisons(parsed)]
    assert found == []


def test_every_drop_down_writes_its_options_as_plain_text():
    """``vaxportal.widgets.SelectField`` (options without WTForms' per-option attribute
    machinery: the register form's coded lists hold hundreds) is the app's only drop-down."""
    offenders = []
    for path in ROOT.rglob("*.py"):
        if path.name == "widgets.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.ImportFrom) and (node.module or "").startswith("wtforms")
                    and any(alias.name == "SelectField" for alias in node.names)):
                offenders.append(str(path.relative_to(ROOT)))
    assert not offenders, f"import SelectField from vaxportal.widgets: {offenders}"
