"""The authorization matrix (issue 7): every rule of ``app.url_map``, every method, for the
anonymous visitor and each role, against an object of the principal's own scope and one of
another scope, compared with the table below. A route without an entry fails.

A row of ``EXPECTED`` has five cells, one per principal, in the order
``anonymous admin data_entry supervisor reviewer``. A cell is ``own/other`` or a single
value for both (rules without an object argument run once). Values:

* ``200``, ``400``, ``403``, ``404`` ...: the status code;
* ``303>recipients.show``: a redirect, named by the endpoint its ``Location`` opens;
* ``L``: the sign-in redirect of Flask-Login (``302>auth.login``);
* ``otp:X``: the step-up prompt (P3.4) for a session without a recent code, and ``X`` once
  the same session has entered one. The prompt reveals nothing: a missing id prompts too.

What the table says, as the policy wants it: anonymous visitors reach only the public pages
(sign-in and its code steps, health check, favicon, language); admins get 403 on every
recipient-data route (P2.1, P2.2) and manage the whole facility tree; a role without the
permission gets 403; an object of another scope answers 404, never 403 or 200.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from flask import url_for
from werkzeug.exceptions import HTTPException

from tests.matrix.world import PRINCIPALS, ROLES, World
from vaxportal.extensions import db
from vaxportal.policy import DATA_PERMS, ROLE_PERMS
from vaxportal.recipients.models import Dose, Recipient

#: rules the matrix does not walk: files served by Flask itself, no code of ours
SKIPPED = {"static"}
IGNORED_METHODS = {"HEAD", "OPTIONS"}
ALIASES = {"L": "302>auth.login"}

# anonymous  admin  data_entry  supervisor  reviewer
EXPECTED: dict[str, dict[str, str]] = {
    # -- public and platform pages -------------------------------------------------------
    "core.home": {"GET": "L 200 200 200 200"},
    "core.healthz": {"GET": "200 200 200 200 200"},
    "core.favicon": {"GET": "200 200 200 200 200"},
    "core.set_language": {"POST": "303>core.home 303>core.home 303>core.home 303>core.home "
                                  "303>core.home"},
    # -- sign-in and the account's own pages -----------------------------------------------
    "auth.login": {
        "GET": "200 302>core.home 302>core.home 302>core.home 302>core.home",
        "POST": "200 302>core.home 302>core.home 302>core.home 302>core.home",
    },
    # the code step of a sign-in in progress only: without one, back to the sign-in page;
    # signed in already, home (and the session stays whole: no cookie dropped, row open)
    "auth.otp": {
        "GET": "303>auth.login 302>core.home 302>core.home 302>core.home 302>core.home",
        "POST": "303>auth.login 302>core.home 302>core.home 302>core.home 302>core.home",
    },
    "auth.resend": {
        "POST": "303>auth.login 302>core.home 302>core.home 302>core.home 302>core.home",
    },
    "auth.logout": {
        "POST": "303>auth.login 303>auth.login 303>auth.login 303>auth.login 303>auth.login",
    },
    "auth.password": {"GET": "L 200 200 200 200", "POST": "L 200 200 200 200"},
    "auth.sessions": {"GET": "L 200 200 200 200"},
    "auth.end_sessions": {"POST": "L 303>auth.sessions 303>auth.sessions 303>auth.sessions "
                                  "303>auth.sessions"},
    "auth.step_up": {
        "GET": "L otp:303>core.home otp:303>core.home otp:303>core.home otp:303>core.home",
        "POST": "L otp:303>core.home otp:303>core.home otp:303>core.home otp:303>core.home",
    },
    "auth.totp": {"GET": "L 200 200 200 200", "POST": "L otp:200 otp:200 otp:200 otp:200"},
    "auth.totp_remove": {"POST": "L otp:303>auth.totp otp:303>auth.totp otp:303>auth.totp "
                                 "otp:303>auth.totp"},
    # -- the audit trail: admins read security events, supervisors and reviewers data events
    #    of their subtree (own = an event they may read, other = one they may not)
    "audit.index": {"GET": "L 200 403 200 200"},
    "audit.show": {"GET": "L 200/404 403 200/404 200/404"},
    # running the integrity check: data-audit readers only (a message on the audit page)
    "audit.verify": {"POST": "L 403 403 303>audit.index 303>audit.index"},
    # the person filter (a national ID POSTed, never in a URL): data-audit readers only; an
    # empty form answers the page with the form's message
    "audit.person": {"POST": "L 403 403 200 200"},
    # -- the facility tree and accounts: admins only, the whole tree, changes after an OTP
    "facilities.index": {"GET": "L 200 403 403 403"},
    "facilities.new_facility": {"GET": "L 200 403 403 403"},
    "facilities.create_facility": {"POST": "L otp:200 403 403 403"},
    "facilities.show": {"GET": "L 200 403 403 403"},
    "facilities.issue_form": {"GET": "L 200 403 403 403"},
    "facilities.issue": {"POST": "L otp:200 403 403 403"},
    "facilities.account": {"GET": "L 200 403 403 403"},
    "facilities.delegate_form": {"GET": "L 200 403 403 403"},
    "facilities.delegate": {"POST": "L otp:200 403 403 403"},
    "facilities.change_details_form": {"GET": "L 200 403 403 403"},
    "facilities.change_details": {"POST": "L otp:200 403 403 403"},
    "facilities.hand_over_form": {"GET": "L 200 403 403 403"},
    "facilities.hand_over": {"POST": "L otp:200 403 403 403"},
    "facilities.reissue_password_form": {"GET": "L 200 403 403 403"},
    "facilities.reissue_password": {"POST": "L otp:200 403 403 403"},
    "facilities.revoke_form": {"GET": "L 200 403 403 403"},
    "facilities.revoke": {"POST": "L otp:200 403 403 403"},
    "facilities.unlock_form": {"GET": "L 200 403 403 403"},
    "facilities.unlock": {"POST": "L otp:200 403 403 403"},
    "facilities.end_delegation_form": {"GET": "L 200 403 403 403"},
    "facilities.end_delegation": {"POST": "L otp:200 403 403 403"},
    # -- two people for access (P2.1): a delegation to the own scope's station waits for
    #    that station's own account; nobody else may decide it (404), reviewers hold no
    #    permission (403); approving needs the approver's own fresh OTP
    "facilities.approvals_list": {"GET": "L 200 200 200 403"},
    #    (scope first: no code is asked for a request one may not decide)
    "facilities.approve": {"POST": "L 404 otp:303>facilities.approvals_list/404 404 403"},
    "facilities.refuse": {"POST": "L 404 303>facilities.approvals_list/404 404 403"},
    # -- the register (P1: scope; P2.1/P2.2: never an admin) -------------------------------
    "recipients.index": {"GET": "L 403 200 200 200"},
    "recipients.search": {"POST": "L 403 303>recipients.index 303>recipients.index "
                                  "303>recipients.index"},
    "recipients.new": {"GET": "L 403 200 200 403", "POST": "L 403 200 200 403"},
    "recipients.validate_field": {"POST": "L 403 200 200 403"},
    "recipients.show": {"GET": "L 403 200/404 200/404 200/404"},
    # an empty form carries no version: the conflict page (409), nothing is saved
    "recipients.edit": {
        "GET": "L 403 200/404 200/404 403",
        "POST": "L 403 409/404 409/404 403",
    },
    "recipients.edit_identity": {"GET": "L 403 200/404 200/404 403"},
    # another scope's id: 404 before any step-up prompt (no code sent for it)
    "recipients.save_identity": {"POST": "L 403 otp:200/404 otp:200/404 403"},
    "recipients.dose_new": {"GET": "L 403 200/404 200/404 403"},
    "recipients.record_dose": {"POST": "L 403 200/404 200/404 403"},
    "recipients.dose_edit": {"GET": "L 403 200/404 200/404 403"},
    "recipients.dose_correct": {"POST": "L 403 otp:200/404 otp:200/404 403"},
    "recipients.dose_delete_confirm": {"GET": "L 403 200/404 200/404 403"},
    # an empty form carries no version: the conflict page (409), nothing is deleted
    "recipients.dose_delete": {"POST": "L 403 otp:409/404 otp:409/404 403"},
    "recipients.lookup": {"GET": "L 403 200 200 403", "POST": "L 403 200 200 403"},
    # own = a look-up grant of the account itself, other = another account's grant
    "recipients.lookup_dose": {"POST": "L 403 200/404 200/404 403"},
    "recipients.lots_index": {"GET": "L 403 200 200 403"},
    "recipients.lot_expiry": {"POST": "L 403 200/404 200/404 403"},
    "recipients.duplicates": {"GET": "L 403 403 200 403"},
    "recipients.resolve_duplicate": {"POST": "L 403 403 400/404 403"},
    # a pair field by field, its merge and undo: supervisors, both records in scope (404
    # before any code is asked); an empty form carries no versions: the page again (409);
    # an open pair has no merge to undo: back to its page
    "recipients.duplicate": {"GET": "L 403 403 200/404 403"},
    "recipients.merge_duplicate": {"POST": "L 403 403 otp:409/404 403"},
    "recipients.undo_merge": {"POST": "L 403 403 otp:303>recipients.duplicate/404 403"},
    # -- Excel export and import: jobs belong to the account that made them ----------------
    "exports.index": {"GET": "L 403 200 200 200"},
    "exports.new": {"GET": "L 403 200 200 200"},
    "exports.request_code": {"POST": "L 403 303>exports.show 303>exports.show "
                                     "303>exports.show"},
    "exports.show": {"GET": "L 403 200/404 200/404 200/404"},
    "exports.confirm": {"POST": "L 403 400/404 400/404 400/404"},
    "exports.resend_code": {"POST": "L 403 303>exports.show/404 303>exports.show/404 "
                                    "303>exports.show/404"},
    "exports.cancel": {"POST": "L 403 303>exports.show/404 303>exports.show/404 "
                               "303>exports.show/404"},
    "exports.download": {"GET": "L 403 200/404 200/404 200/404"},
    "exports.import_template": {"GET": "L 403 200 200 403"},
    "exports.import_new": {"GET": "L 403 200 200 403"},
    "exports.import_upload": {"POST": "L 403 400 400 403"},
    "exports.import_show": {"GET": "L 403 200/404 200/404 403"},
    "exports.import_report": {"GET": "L 403 200/404 200/404 403"},
    "exports.import_confirm": {"POST": "L 403 303>exports.import_show/404 "
                                       "303>exports.import_show/404 403"},
    "exports.import_discard": {"POST": "L 403 303>exports.index/404 303>exports.index/404 403"},
    # -- reports (issue 15): data_entry its own facility, supervisors and reviewers their
    #    subtree, never an admin (P2.1); another scope's facility answers 404; targets are
    #    entered by supervisors only (an empty form: 400)
    "reports.index": {"GET": "L 403 200 200 200"},
    "reports.facility": {"GET": "L 403 200/404 200/404 200/404"},
    "reports.due_list": {"GET": "L 403 200/404 200/404 200/404"},
    "reports.quality_list": {"GET": "L 403 200/404 200/404 200/404"},
    "reports.due_export": {"POST": "L 403 303>exports.new/404 303>exports.new/404 "
                                   "303>exports.new/404"},
    # the daily report: read like the dashboard; confirmed by the facility's own data-entry
    #    account only (an empty form: 400), anyone else's answers 404 (a supervisor's too)
    "reports.daily_index": {"GET": "L 403 200 200 200"},
    "reports.facility_daily": {"GET": "L 403 200/404 200/404 200/404"},
    "reports.daily_confirm": {"POST": "L 403 400/404 404 403"},
    # an aggregate table of the dashboard to Excel: no personal data, so no code (P3.4 is
    # about lists of people)
    "reports.table_export": {"POST": "L 403 200/404 200/404 200/404"},
    "reports.targets_index": {"GET": "L 403 403 200 403"},
    "reports.target_save": {"POST": "L 403 403 400 403"},
    "reports.target_import": {"POST": "L 403 403 400 403"},
    # -- vaccination certificates: issued and printed by the data-entry account of the
    #    recipient's facility only; the revocation list and /verify are public ----------------
    "certificates.issue": {"POST": "L 403 303>certificates.show/404 403 403"},
    "certificates.show": {"GET": "L 403 200/404 403 403"},
    "certificates.revoked": {"GET": "200 200 200 200 200"},
    "verify.verify": {"GET": "200 200 200 200 200", "POST": "200 200 200 200 200"},
}

#: which of an account's jobs a job route is sent (side effects get a job of their own)
JOB_KIND = {
    "exports.show": "export", "exports.confirm": "export", "exports.resend_code": "export",
    "exports.cancel": "export_spare", "exports.download": "export_done",
    "exports.import_show": "import", "exports.import_report": "import",
    "exports.import_confirm": "import_confirm", "exports.import_discard": "import_discard",
}
#: a minimal body where an empty one would not reach the view's own checks
BODIES = {"core.set_language": {"lang": "vi"}, "reports.table_export": {"table": "coverage"}}


# -- the table --------------------------------------------------------------------------


def cells(spec: str) -> dict[str, tuple[str, str]]:
    """``"L 403 200/404 ..."`` → {principal: (own, other)}."""
    parts = spec.split()
    assert len(parts) == len(PRINCIPALS), f"{spec!r}: one cell per principal {PRINCIPALS}"
    table = {}
    for principal, cell in zip(PRINCIPALS, parts, strict=True):
        own, _sep, other = cell.partition("/")
        table[principal] = (ALIASES.get(own, own), ALIASES.get(other or own, other or own))
    return table


def routes(app) -> dict[tuple[str, str], list]:
    """(endpoint, method) → its rules, for every rule but the skipped ones."""
    found: dict[tuple[str, str], list] = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint in SKIPPED:
            continue
        for method in sorted(rule.methods - IGNORED_METHODS):
            found.setdefault((rule.endpoint, method), []).append(rule)
    return found


def expected_keys() -> set[tuple[str, str]]:
    return {(endpoint, method) for endpoint, methods in EXPECTED.items() for method in methods}


def test_every_route_has_an_entry(app):
    missing = sorted(set(routes(app)) - expected_keys())
    assert not missing, f"routes without an entry in the authorization matrix: {missing}"


def test_every_entry_is_a_route(app):
    stale = sorted(expected_keys() - set(routes(app)))
    assert not stale, f"entries of the authorization matrix that name no route: {stale}"


def test_every_entry_is_well_formed(app):
    for endpoint, methods in EXPECTED.items():
        for method, spec in methods.items():
            for value in (v for pair in cells(spec).values() for v in pair):
                status, _sep, target = value.removeprefix("otp:").partition(">")
                assert status.isdigit(), (endpoint, method, value)
                assert (300 <= int(status) < 400) == bool(target), (endpoint, method, value)
                assert not target or target in app.view_functions, (endpoint, method, value)


def test_p1_protected_views_declare_their_permissions(app):
    """Every view that refuses a signed-in role does it through the policy's decorators
    (``required_perms`` / ``any_of_perms``), and the roles the table refuses are exactly the
    roles the policy's table leaves without the permission; a view an admin is refused holds
    only data permissions (P2.1, P2.2)."""
    for endpoint, methods in EXPECTED.items():
        view = app.view_functions[endpoint]
        required = getattr(view, "required_perms", None)
        any_of = getattr(view, "any_of_perms", None)
        for method, spec in methods.items():
            table = cells(spec)
            refused = {role for role in ROLES if "403" in table[role]}
            if not refused:
                assert required is None and any_of is None, (endpoint, method)
                continue
            assert required or any_of, f"{endpoint} refuses {refused} without the policy"
            if required:
                allowed = {r for r in ROLES if all(p in ROLE_PERMS[r] for p in required)}
            else:
                allowed = {r for r in ROLES if any(p in ROLE_PERMS[r] for p in any_of)}
            assert refused == set(ROLES) - allowed, (endpoint, method, refused, allowed)
            assert all(table[r] == ("403", "403") for r in refused), (endpoint, method)
            if "admin" in refused:
                assert set(required or any_of) <= DATA_PERMS, (endpoint, method)


# -- walking the matrix -----------------------------------------------------------------


def _held(world: World, principal, key: str) -> str:
    """The principal's own job or grant; one of the data-entry account's when it has none
    (anonymous, an admin, a reviewer's import): those principals are refused before any
    object is loaded."""
    account = principal.account
    held = world.holdings.get(account.id, {}) if account is not None else {}
    if key not in held:
        held = world.holdings[world.principals["data_entry"].account.id]
    return held[key]


def _job(world: World, principal, endpoint: str, scope: str) -> str:
    kind = JOB_KIND[endpoint]
    if scope == "other":  # another account's job, of another facility
        return world.holdings[world.other_account.id][kind.split("_")[0]]
    return _held(world, principal, kind)


def _lookup_token(world: World, principal, scope: str) -> str:
    if scope == "other":
        return world.holdings[world.other_account.id]["lookup"]
    return _held(world, principal, "lookup")


def _event(world: World, principal, scope: str) -> int:
    """Admins read security events and never a data event; the others read data events of
    their own subtree only."""
    if principal.name == "admin":
        return world.security_event if scope == "own" else world.own.data_event
    return (world.own if scope == "own" else world.other).data_event


def _certificate(world: World, side) -> int:
    """A certificate of the side's recipient (made once per side, straight in the database:
    the page that issues one is a case of its own)."""
    from vaxportal.certificates.models import Certificate
    from vaxportal.certificates.payload import new_uvci
    from vaxportal.timeutil import utcnow

    made = getattr(side, "certificate_id", None)
    if made is None:
        certificate = Certificate(
            recipient_id=side.recipient.id, dose_id=side.dose.id,
            facility_id=side.recipient.facility_id, uvci=new_uvci(), hc1="HC1:",
            issued_by_id=world.principals["data_entry"].account.id, expires_at=utcnow())
        db.session.add(certificate)
        db.session.commit()
        made = side.certificate_id = certificate.id
    return made


def _lot(side) -> int:
    """A lot on the register of the side's facility (made once per side)."""
    from vaxportal.recipients.models import DoseLot

    made = getattr(side, "lot_id", None)
    if made is None:
        lot = DoseLot(facility_id=side.dose.facility_id, lot_number=side.dose.lot_number,
                      vaccine_id=side.dose.vaccine_id, last_used_on=side.dose.given_on)
        db.session.add(lot)
        db.session.commit()
        made = side.lot_id = lot.id
    return made


def url_values(world: World, principal, rule, scope: str) -> dict:
    side = world.own if scope == "own" else world.other
    values = {}
    for name in rule.arguments:
        if name == "job_id":
            values[name] = _job(world, principal, rule.endpoint, scope)
        elif name == "token":
            values[name] = _lookup_token(world, principal, scope)
        elif name == "event_id":
            values[name] = _event(world, principal, scope)
        elif name == "name":
            values[name] = "full_name"
        elif name == "certificate_id":
            values[name] = _certificate(world, side)
        elif name == "lot_id":
            values[name] = _lot(side)
        elif name == "pending_id":
            thing = side.pending if rule.endpoint == "facilities.approve" else side.pending_spare
            values[name] = thing.id
        elif name in ("recipient_id", "dose_id", "candidate_id", "facility_id", "account_id",
                      "delegation_id"):
            thing = getattr(side, name.removesuffix("_id"))
            values[name] = thing.id
        else:
            raise AssertionError(f"{rule.endpoint}: the matrix has no object for <{name}>")
    return values


def describe(adapter, response) -> str:
    if 300 <= response.status_code < 400:
        path = urlsplit(response.headers.get("Location", "")).path
        try:
            endpoint, _args = adapter.match(path, method="GET")
        except HTTPException:
            endpoint = path
        return f"{response.status_code}>{endpoint}"
    return str(response.status_code)


def is_prompt(response) -> bool:
    return response.status_code == 200 and b'name="stepup_code"' in response.data


class Walk:
    def __init__(self, app, world: World) -> None:
        self.app = app
        self.world = world
        self.adapter = app.url_map.bind("localhost")
        self.cases = 0
        self.requests = 0
        self.mismatches: list[str] = []
        self.leaks: list[str] = []
        self.orphans: list[str] = []
        #: personal data no principal may ever receive (another scope), and, for admins,
        #: none at all (P2.1)
        self.foreign = [n.encode() for n in world.other.names]
        self.all_names = self.foreign + [n.encode() for n in world.own.names]
        self.seen_own_name = False

    def send(self, principal, method: str, url: str, body: dict):
        self.requests += 1
        return principal.client.open(url, method=method, data=dict(body))

    def case(self, rule, method: str, principal, scope: str, want: str) -> None:
        with self.app.test_request_context():
            url = url_for(rule.endpoint, **url_values(self.world, principal, rule, scope))
        body = BODIES.get(rule.endpoint, {})
        response = self.send(principal, method, url, body)
        responses = [response]
        got = describe(self.adapter, response)
        where = f"{rule.endpoint} {method} {url} as {principal.name} ({scope} scope)"
        if principal.signed_in and is_prompt(response):
            principal.set_fresh(True)
            try:
                again = self.send(principal, method, url, body)
            finally:
                self.session_ended(where, principal)
                principal.set_fresh(False)
            responses.append(again)
            got = "otp:" + describe(self.adapter, again)
        self.session_ended(where, principal)
        self.cases += 1
        if got != want:
            self.mismatches.append(f"{where}: expected {want}, got {got}")
        for answer in responses:
            self.check_body(where, principal, answer)
            if (principal.name == "data_entry" and rule.endpoint == "recipients.show"
                    and scope == "own"):
                self.seen_own_name = self.world.own.names[0].encode() in answer.data

    def session_ended(self, where: str, principal) -> None:
        problem = principal.ensure_signed_in()
        if problem:
            self.orphans.append(f"{where}: {problem}")

    def check_body(self, where: str, principal, response) -> None:
        forbidden = self.all_names if principal.name == "admin" else self.foreign
        found = [n.decode() for n in forbidden if n in response.data]
        if found:
            self.leaks.append(f"{where}: the answer holds {found}")


#: the walk is cut into parts (every PARTS-th rule-method) so that the run's workers share it
PARTS = 6


@pytest.mark.parametrize("part", range(PARTS))
def test_authorization_matrix(app, world, summary_line, part):
    found = routes(app)
    assert set(found) == expected_keys(), "see test_every_route_has_an_entry"
    walk = Walk(app, world)
    for (endpoint, method), rules in sorted(found.items())[part::PARTS]:
        table = cells(EXPECTED[endpoint][method])
        for rule in rules:
            scopes = ("own", "other") if rule.arguments else ("own",)
            for principal_name in PRINCIPALS:
                principal = world.principals[principal_name]
                for scope in scopes:
                    want = table[principal_name][0 if scope == "own" else 1]
                    walk.case(rule, method, principal, scope, want)
    mine = dict(sorted(found.items())[part::PARTS])
    rule_count = len({rule.rule + rule.endpoint for rules in mine.values() for rule in rules})
    summary_line(f"authorization matrix, part {part + 1} of {PARTS}: {walk.cases} cases over "
                 f"{rule_count} rules ({len(mine)} rule-methods, {len(PRINCIPALS)} principals, "
                 f"{walk.requests} requests)")
    assert not (walk.mismatches or walk.leaks or walk.orphans), "\n".join(
        [f"{len(walk.mismatches)} of {walk.cases} cases differ from EXPECTED:",
         *walk.mismatches, f"{len(walk.leaks)} answers hold personal data they must not:",
         *walk.leaks, f"{len(walk.orphans)} cases signed out without ending the session:",
         *walk.orphans])
    if ("recipients.show", "GET") in mine:
        assert walk.seen_own_name, "the body check must see a name where one is allowed"
    db.session.expire_all()
    for side in (world.own, world.other):  # minimal bodies: no record was changed or removed
        assert db.session.get(Dose, side.dose.id) is not None
        assert db.session.get(Recipient, side.recipient.id).version_id == 1
