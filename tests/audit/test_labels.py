"""The audit trail reads like the rest of the app (issue 15): every action, entity, audited
column and detail key has a label in Vietnamese and English, and a guard over the code base
fails on the next event written without one, so that nothing is shown raw (P2.4: a trail
its readers can follow)."""

from __future__ import annotations

import ast
import pathlib
import re
from html import unescape

import sqlalchemy as sa

from tests.helpers import add_dose, audit_rows
from vaxportal import models
from vaxportal.audit import events, labels, registry
from vaxportal.extensions import db
from vaxportal.facilities import approvals

ROOT = pathlib.Path(__file__).resolve().parents[2] / "vaxportal"
#: the keywords of ``audit.record`` itself, not detail keys
RECORD_KEYWORDS = {"category", "entity", "entity_id", "facility_id", "details", "account"}
#: where an action name is built from parts; each site is expanded by a test below
COMPOSED_SITES = {"facilities/approvals.py"}


def html(response) -> str:
    return unescape(response.get_data(as_text=True))


# -- the guard over the code base ------------------------------------------------------------


def _callee(node: ast.Call) -> str:
    func = node.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def _strings(node: ast.AST) -> set[str]:
    return {n.value for n in ast.walk(node) if isinstance(n, ast.Constant)
            and isinstance(n.value, str)}


def _params(function: ast.FunctionDef) -> list[str]:
    return [a.arg for a in function.args.posonlyargs + function.args.args]


def _records(tree: ast.AST):
    """(innermost enclosing function or None, call) of every ``record(...)`` call:
    ``audit.record``, ``events.record`` or the bare name."""
    enclosing: dict[int, ast.FunctionDef] = {}
    functions = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]
    for function in functions:  # outer ones first: an inner function overrides
        for node in ast.walk(function):
            if node is not function:
                enclosing[id(node)] = function
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _callee(node) == "record" and node.args:
            yield enclosing.get(id(node)), node


def _helpers(tree: ast.AST) -> dict[str, int]:
    """Functions of a module that pass one of their parameters on as the action (a module's
    ``_record(action, job, ...)``): name -> the parameter's position."""
    found = {}
    for function, call in _records(tree):
        first = call.args[0]
        if function is not None and isinstance(first, ast.Name) \
                and first.id in _params(function):
            found[function.name] = _params(function).index(first.id)
    return found


class _Actions:
    """Every action name one module writes: the first argument of ``record(...)``, or the
    action argument of a helper of the module that passes it on."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.found: set[str] = set()
        self.unknown: list[str] = []

    def visit(self, tree: ast.AST) -> None:
        helpers = _helpers(tree)
        functions = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]
        for function, call in _records(tree):
            if function is None or function.name not in helpers:
                self._action(call.args[0], function, call)
        for function in functions:
            for node in ast.walk(function):
                if isinstance(node, ast.Call) and _callee(node) in helpers \
                        and len(node.args) > helpers[_callee(node)]:
                    self._action(node.args[helpers[_callee(node)]], function, node)

    def _action(self, arg: ast.AST, function, call: ast.Call) -> None:
        if isinstance(arg, ast.Name) and function is not None \
                and function.name in _helpers(ast.Module(body=[function], type_ignores=[])) \
                and arg.id in _params(function):
            return  # inside a helper, its own parameter passed on: its callers are read
        if isinstance(arg, ast.Name) and function is not None:
            values = [n.value for n in ast.walk(function) if isinstance(n, ast.Assign)
                      and any(isinstance(t, ast.Name) and t.id == arg.id for t in n.targets)]
            if values and all(isinstance(v, ast.Constant | ast.IfExp) for v in values):
                arg = ast.Tuple(elts=values)  # a local name given literal actions
        if isinstance(arg, ast.Constant | ast.IfExp | ast.Tuple):
            self.found |= _strings(arg)
        elif isinstance(arg, ast.JoinedStr) and self.where in COMPOSED_SITES:
            return  # expanded by test_the_approval_actions_built_from_verb_and_kind_...
        else:
            self.unknown.append(f"{self.where}:{call.lineno}")


def _modules():
    for path in sorted(ROOT.rglob("*.py")):
        yield str(path.relative_to(ROOT)), ast.parse(path.read_text(encoding="utf-8"))


def written_actions() -> tuple[set[str], list[str]]:
    found, unknown = set(), []
    for where, tree in _modules():
        visitor = _Actions(where)
        visitor.visit(tree)
        found |= visitor.found
        unknown += visitor.unknown
    return found, unknown


def test_every_action_written_in_the_code_base_has_a_label():
    found, unknown = written_actions()
    assert unknown == [], f"an audit action the guard cannot read (write it as a literal): " \
        f"{unknown}"
    assert {"view_identity", "cross_facility_lookup", "login_ok", "hand_over",
            "export_downloaded", "otp_failed", "otp_replayed", "permission_refused"} <= found
    assert len(found) > 40  # the walk really read the code base
    missing = sorted(found - set(labels.ACTIONS))
    assert missing == [], f"audit actions without a label in audit/labels.py: {missing}"


def test_the_approval_actions_built_from_verb_and_kind_have_labels():
    """``facilities/approvals.py`` writes ``<verb>_<kind>``: every verb it passes and every
    kind it applies."""
    tree = ast.parse((ROOT / "facilities/approvals.py").read_text(encoding="utf-8"))
    verbs = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _callee(node) == "_event" and len(node.args) > 1:
            verbs |= _strings(node.args[1])
        if isinstance(node, ast.FunctionDef) and node.name == "_decided":
            for value in ast.walk(node):
                if isinstance(value, ast.Dict):
                    verbs |= {v.value for v in value.values if isinstance(v, ast.Constant)}
    assert verbs == {"request", "approve", "refuse", "expire"}
    for verb in verbs:
        for kind in approvals.APPLY:
            assert f"{verb}_{kind}" in labels.ACTIONS, (verb, kind)


def test_the_session_hooks_actions_have_labels():
    source = (ROOT / "audit/hook.py").read_text(encoding="utf-8")
    for action in ("insert", "update", "delete"):
        assert f'"{action}"' in source
        assert action in labels.ACTIONS


def test_every_audited_column_has_a_field_label():
    assert models  # every domain's models are imported
    specs = registry.specs()
    assert len(specs) >= 15
    missing = []
    for cls, spec in specs.items():
        for key, _column in registry.audited_columns(sa.inspect(cls), spec):
            if not labels.has_field_label(spec.entity, key):
                missing.append(f"{spec.entity}.{key}")
    assert missing == [], f"audited columns without a label in audit/labels.py: {missing}"


def test_every_entity_has_a_label():
    named = set(registry.entity_names())
    for _where, tree in _modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _callee(node).endswith("record"):
                named |= {s for k in node.keywords if k.arg == "entity" for s in _strings(k.value)}
    assert named - set(labels.ENTITIES) == set()


def _detail_keys() -> set[str]:
    """Keys of the details events carry: ``details={...}``, a ``details = {...}`` built
    before the call, keywords of a ``_record`` helper, and ``**helper(...)`` dicts."""
    keys = set()
    for _where, tree in _modules():
        returned = {f.name: [n.value for n in ast.walk(f) if isinstance(n, ast.Return)]
                    for f in ast.walk(tree) if isinstance(f, ast.FunctionDef)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == "details" for t in node.targets):
                keys |= _dict_keys(node.value)
            if not (isinstance(node, ast.Call) and _callee(node).endswith("record")):
                continue
            for arg in node.args:  # a helper's details given as a dict
                keys |= _dict_keys(arg) if isinstance(arg, ast.Dict) else set()
            for keyword in node.keywords:
                if keyword.arg == "details":
                    keys |= _dict_keys(keyword.value)
                elif keyword.arg is None and isinstance(keyword.value, ast.Call):
                    for value in returned.get(_callee(keyword.value), []):
                        keys |= _dict_keys(value)
                elif keyword.arg not in RECORD_KEYWORDS:
                    keys.add(keyword.arg)
    return keys


def _dict_keys(node) -> set[str]:
    return {k.value for k in getattr(node, "keys", []) if isinstance(k, ast.Constant)}


def test_every_detail_key_has_a_label():
    keys = _detail_keys()
    assert {"reason", "purpose", "row_count", "sha256", "total_rows", "request_ref"} <= keys
    assert sorted(keys - set(labels.DETAILS)) == []


def test_the_guard_sees_a_new_action_without_a_label(tmp_path):
    """The guard would fail on the next event written without its label."""
    tree = ast.parse('def f():\n    events.record("brand_new_event", category="access")\n'
                     'def g(thing):\n    x = thing.name\n    audit.record(x, category="data")\n')
    visitor = _Actions("somewhere.py")
    visitor.visit(tree)
    assert visitor.found == {"brand_new_event"} and "brand_new_event" not in labels.ACTIONS
    assert visitor.unknown == ["somewhere.py:5"]  # an action the guard cannot read fails too
    helper = ast.parse('def _record(action, job):\n    events.record(action, category="data")\n'
                       'def h(job):\n    _record("made_by_a_helper", job)\n')
    visitor = _Actions("elsewhere.py")
    visitor.visit(helper)
    assert visitor.found == {"made_by_a_helper"} and visitor.unknown == []


# -- over HTTP, in Vietnamese and English -----------------------------------------------------


def english(client, page="/audit/"):
    assert client.post("/lang", data={"lang": "en", "next": page}).status_code in (302, 303)
    return client


def test_p2_4_a_view_and_a_dose_correction_read_as_their_labels(supervisor, person, app):
    recipient = person("s1", full_name="Võ Thị Mười")
    dose = add_dose(recipient)
    assert supervisor.get(f"/recipients/{recipient.id}").status_code == 200  # view_identity
    dose.vaccinator = "Trần Văn Sửa"
    db.session.commit()
    page = html(supervisor.get("/audit/?views=y"))
    rows = page[page.index('id="audit-rows"'):]
    assert "Xem hồ sơ đối tượng tiêm" in rows and "view_identity" not in rows
    assert "Người tiêm" in rows  # the changed field by its label
    assert ">vaccinator<" not in rows
    english(supervisor)
    page = html(supervisor.get("/audit/?views=y"))
    rows = page[page.index('id="audit-rows"'):]
    assert "Viewed a recipient's record" in rows and "view_identity" not in rows
    assert "Administered by" in rows


def test_p2_4_the_row_page_shows_labels_with_the_raw_keys_small(supervisor, person):
    recipient = person("s1")
    dose = add_dose(recipient)
    dose.lot_number = "AZ-2"
    db.session.commit()
    (row,) = audit_rows(entity="dose", action="update")
    raw = supervisor.get(f"/audit/{row.id}").get_data(as_text=True)
    assert re.search(r'Số lô <small class="muted"><code>lot_number</code></small>', raw)
    assert re.search(r'Sửa <small class="muted"><code>update</code></small>', raw)
    assert re.search(r'Mũi tiêm #\d+ <small class="muted"><code>dose</code></small>', raw)
    english(supervisor, f"/audit/{row.id}")
    raw = supervisor.get(f"/audit/{row.id}").get_data(as_text=True)
    assert re.search(r'Lot number <small class="muted"><code>lot_number</code></small>', raw)


def test_p2_4_details_of_an_event_read_as_labels(supervisor, person):
    recipient = person("s1")
    response = supervisor.post("/recipients/lookup", data={
        "id_number": recipient.national_id, "reason": "Kiểm tra lịch sử tiêm trước khi tiêm"})
    assert response.status_code == 200
    (row,) = audit_rows(action="cross_facility_lookup")
    raw = supervisor.get(f"/audit/{row.id}").get_data(as_text=True)
    assert "Tra cứu ngoài cơ sở" in raw
    assert re.search(r'Lý do <small class="muted"><code>reason</code></small>', raw)
    assert re.search(r'Hồ sơ tìm thấy <small class="muted"><code>found</code></small>', raw)


def test_p2_1_the_security_audit_reads_sign_ins_and_approvals_as_labels(signed_in, place):
    admin = signed_in("admin", facility=place["doh"])
    events.record("login_ok", category="access", entity="account", entity_id=admin.account.id,
                  account=admin.account)
    events.record("approve_issue", category="account", entity="pending_action", entity_id=1,
                  facility_id=place["s1"].id, account=admin.account)
    db.session.commit()
    page = html(admin.get("/audit/"))
    rows = page[page.index('id="audit-rows"'):]
    assert "Đăng nhập thành công" in rows and "login_ok" not in rows
    assert "Đã phê duyệt: Cấp tài khoản" in rows and "approve_issue" not in rows
    english(admin)
    page = html(admin.get("/audit/"))
    rows = page[page.index('id="audit-rows"'):]
    assert "Signed in" in rows and "Approved: Issue account" in rows


def test_the_table_labels_no_action_that_nothing_writes():
    """The table stays the list of what the code writes: the actions found by the walk, the
    session hook's three and the approvals' verb x kind."""
    found, _unknown = written_actions()
    composed = {f"{verb}_{kind}" for verb in labels.APPROVAL_VERBS for kind in approvals.APPLY}
    assert set(labels.ACTIONS) == found | set(labels.CHANGES) | composed


def test_changes_read_as_what_happened_in_english(supervisor, person):
    recipient = person("s1")
    recipient.occupation = "Nông dân"
    db.session.commit()
    english(supervisor)
    page = html(supervisor.get("/audit/?entity=recipient"))
    rows = page[page.index('id="audit-rows"'):]
    assert "Created" in rows and "Changed" in rows


def test_p2_4_a_facility_id_among_the_values_reads_as_the_facility(supervisor, person, place):
    recipient = person("s1")
    (row,) = audit_rows(entity="recipient", entity_id=str(recipient.id), action="insert")
    raw = html(supervisor.get(f"/audit/{row.id}"))
    s1 = place["s1"]
    assert f"{s1.code} · {s1.name} (#{s1.id})" in raw
