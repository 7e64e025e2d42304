"""The audit trail on the ground floor (P2.4): its core imports no domain, every domain marks
its own models audited, and who is acting comes from the provider auth registers."""

from __future__ import annotations

import ast
import json
import pathlib
import re
import subprocess
import sys

import pytest

from tests.helpers import audit_rows
from vaxportal import audit, models
from vaxportal.audit import actors, registry
from vaxportal.extensions import db

ROOT = pathlib.Path(__file__).resolve().parents[2]
AUDIT = ROOT / "vaxportal" / "audit"

#: the core: the trail itself, below every domain
CORE = ("actors", "chain", "checkpoint", "cli", "events", "hook", "integrity", "models",
        "registry")
#: the reading side: above the domains (it may import them)
READING = ("forms", "labels", "person_filter", "present", "refusals", "views")
#: packages and modules the core must never import
DOMAINS = ("auth", "facilities", "recipients", "exports", "certificates", "reports", "policy",
           "core", "demo", "models", "web")

#: what P2.4 ("every data edit ... tied to the account") requires the hook to follow, with
#: the category its rows carry (data events: recipients and what hangs on them; account
#: events: accounts, their holders, the facility tree and the written requests)
MUST_BE_AUDITED = {
    "Recipient": "data", "Dose": "data", "DoseLot": "data", "DuplicateCandidate": "data",
    "Vaccine": "data", "PriorityGroup": "data", "Certificate": "data",
    "RevokedCertificate": "data", "TargetPopulation": "data", "RecipientMerge": "data",
    "DailyReportConfirmation": "data",
    "Account": "account", "Custodian": "account", "WrittenRequest": "account",
    "Facility": "account", "Delegation": "account", "PendingAction": "account",
}
#: models the hook does not follow, and why
NOT_AUDITED = {
    "AuditEvent": "the trail itself (append-only)",
    "UserSession": "sessions churn; sign-ins and session ends are access events",
    "OtpChallenge": "codes churn; code outcomes are access events",
    "PasswordHistory": "hashes only; a password change is an account event",
    "SignInFailure": "lock-out bookkeeping; failures are access events",
    "RecipientSearch": "a stored search; searches are access events",
    "CrossLookup": "a look-up and its reason are an access event",
    "ExportJob": "an export is an access event (filter, row count, file digest)",
    "ImportJob": "an import is an access event; the rows it writes are audited recipients",
    "CoveragePerson": "the coverage summary, derived from the audited doses and recipients",
    "CoverageTally": "the coverage summary, derived from the audited doses and recipients",
    "DoseTally": "the doses counted by day, derived from the audited doses",
}


def test_p2_4_the_audit_core_imports_no_domain():
    """A fresh interpreter imports the core and lists every vaxportal module it loaded."""
    code = ("import json, sys\n"
            + "".join(f"import vaxportal.audit.{name}\n" for name in CORE)
            + "print(json.dumps(sorted(m for m in sys.modules if m.startswith('vaxportal'))))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, check=True)
    loaded = json.loads(done.stdout)
    assert {f"vaxportal.audit.{name}" for name in CORE} <= set(loaded)
    domains = [m for m in loaded
               if m.split(".")[1:2] and m.split(".")[1] in DOMAINS]
    assert domains == []
    reading = [m for m in loaded if m.rsplit(".", 1)[-1] in READING]
    assert reading == []


def _imports(path: pathlib.Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return found


@pytest.mark.parametrize("name", CORE)
def test_p2_4_no_core_module_names_a_domain_even_inside_a_function(name):
    """Function-level imports would hide a domain from the fresh-interpreter test."""
    named = _imports(AUDIT / f"{name}.py")
    assert [m for m in named if m.split(".")[1:2] and m.split(".")[1] in DOMAINS] == []
    source = (AUDIT / f"{name}.py").read_text(encoding="utf-8")
    # who is signed in, and the session's stage, are auth's business (its actor provider)
    assert not re.search(r"_login_user|g\.user_session|g\.get\(.user_session.\)", source)


def _mapped_classes() -> dict[str, type]:
    assert models  # every domain's models are imported
    return {m.class_.__name__: m.class_ for m in db.Model.registry.mappers}


def test_p2_4_every_model_that_holds_data_or_accounts_is_marked_audited():
    classes = _mapped_classes()
    for name, category in MUST_BE_AUDITED.items():
        spec = registry.spec_for(classes[name])
        assert spec is not None, f"{name} must be audited"
        assert spec.category == category, name


def test_p2_4_every_model_is_either_audited_or_left_out_with_a_reason():
    """A new model fails here until its domain decides (and this test says why)."""
    classes = _mapped_classes()
    assert set(classes) == set(MUST_BE_AUDITED) | set(NOT_AUDITED)
    assert [n for n in NOT_AUDITED if registry.spec_for(classes[n]) is not None] == []


def test_p2_4_each_domain_marks_its_models_where_they_are_defined():
    """The registry lists no model: every mark sits in the model's own module."""
    classes = _mapped_classes()
    for name in MUST_BE_AUDITED:
        module = pathlib.Path(sys.modules[classes[name].__module__].__file__)
        assert "@audit.audited" in _decorators_of(module, name), name


def _decorators_of(path: pathlib.Path, class_name: str) -> str:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    (cls,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == class_name]
    return " ".join("@" + ast.unparse(d) for d in cls.decorator_list)


def test_p2_4_rows_name_the_actor_the_provider_answers(app, place):
    """The trail asks the registered provider who acts (auth's, in the app); with none it
    names the console."""
    seen = []

    def provider(account=None, *, load=True):
        seen.append((account, load))
        return audit.Actor(account_id=4242, username="someone", custodian_id=7,
                           session_id=9, facility_id=place["s1"].id)

    auth_provider = actors._provider[:]
    try:
        with app.app_context():
            audit.actor_provider(provider)
            audit.record("probe_named", category="access", entity="account", entity_id=1)
            actors._provider[:] = []
            audit.record("probe_console", category="access", entity="account", entity_id=1)
            with audit.acting_as("job:someone"):
                audit.record("probe_job", category="access", entity="account", entity_id=1)
            db.session.commit()
    finally:
        actors._provider[:] = auth_provider
    (named,) = audit_rows(action="probe_named")
    assert (named.account_id, named.actor, named.custodian_id, named.session_id) == (
        4242, "account:someone", 7, 9)
    assert seen == [(None, True)]
    (console,) = audit_rows(action="probe_console")
    assert console.account_id is None and console.actor.startswith("console:")
    (job,) = audit_rows(action="probe_job")
    assert job.actor == "job:someone"
