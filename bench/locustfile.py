"""The load test's simulated people (Locust), run by ``bench/load.py`` (``make load``).

Each simulated person signs in through the real forms (password, then the code the app sends
by SMS) and keeps that session:

* ``ClinicUser``, a data-entry account of a commune station or hospital: searches as she
  types (the search box's htmx POST at each pause), pages through the register, opens the
  dose form of someone found and records a dose;
* ``SupervisorUser``, a district health centre: the reports dashboard and its facility
  page, the audit trail, the register;
* ``ExportUser``, the province's reviewers: an export to Excel with its own SMS code, its
  progress polled until the file is written by the worker, then downloaded.

The app's SMS gateway is this process: ``bench/load.py`` points the app's ``http`` SMS
backend at ``LOAD_SMS_PORT``, where ``Gateway`` keeps each phone's messages. The accounts
(username, password, phone, role) come from the JSON file ``LOAD_ACCOUNTS``. Each person
comes from an address of its own (``X-Forwarded-For``, the app trusting one proxy), as
clinics do. A 429 is the app's throttling working as intended: counted apart (written to
``LOAD_RESULT``), not a failure; any other answer than the one expected is a failure.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
from collections import defaultdict
from datetime import date, timedelta
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import gevent
from gevent.lock import Semaphore
from gevent.pywsgi import WSGIServer
from locust import HttpUser, between, events, task
from locust.exception import StopUser

ACCOUNTS = json.loads(Path(os.environ.get("LOAD_ACCOUNTS", "accounts.json")).read_text()) \
    if os.environ.get("LOAD_ACCOUNTS") else []
SMS_PORT = int(os.environ.get("LOAD_SMS_PORT", "0"))
RESULT = os.environ.get("LOAD_RESULT")
CODE = re.compile(r"\b(\d{6})\b")
#: words of the sign-in code's SMS (the demo accounts' language, Vietnamese)
SIGN_IN_SMS = "mã đăng nhập"
CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
#: what people type into the search box: folded or not, a family name and the start of more
TYPED = ("nguyen van", "Trần Thị", "le thi h", "pham", "Huỳnh", "vo van", "dang thi l",
         "bui", "do van", "ngo thi m", "duong", "ly van", "truong thi")
HX = {"HX-Request": "true"}
THROTTLED = defaultdict(int)  # request kind -> 429 answers


# -- the SMS gateway ------------------------------------------------------------------------


class Gateway:
    """What the app sends by SMS, per phone number, in order."""

    def __init__(self) -> None:
        self.messages: dict[str, list[str]] = defaultdict(list)

    def __call__(self, environ, start_response):
        size = int(environ.get("CONTENT_LENGTH") or 0)
        message = json.loads(environ["wsgi.input"].read(size) or b"{}")
        self.messages[message.get("to", "")].append(message.get("body", ""))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    def count(self, phone: str) -> int:
        return len(self.messages[phone])

    def code(self, phone: str, since: int, naming: str = "", seconds: float = 60) -> str:
        """The code of the first message to ``phone`` after the first ``since`` (that names
        ``naming``, when given); waits for it."""
        for _ in range(int(seconds * 20)):
            for body in self.messages[phone][since:]:
                found = CODE.search(body)
                if found and naming in body:
                    return found.group(1)
            gevent.sleep(0.05)
        raise AssertionError(f"no SMS code reached {phone[-3:]}")


GATEWAY = Gateway()
SIGN_IN_LOCKS: dict[str, Semaphore] = defaultdict(Semaphore)  # one sign-in per account at a time
ADDRESSES = (f"{net}.{n}" for net in ("198.51.100", "203.0.113", "192.0.2")
             for n in range(1, 255))  # documentation ranges: only ever a header


@events.init.add_listener
def _start_gateway(environment, **_kwargs):
    if SMS_PORT:
        WSGIServer(("127.0.0.1", SMS_PORT), GATEWAY, log=None, error_log=None).start()


@events.quitting.add_listener
def _write_result(environment, **_kwargs):
    if RESULT:
        Path(RESULT).write_text(json.dumps({"throttled": dict(THROTTLED)}))


_ROUND_ROBIN = {role: itertools.cycle([a for a in ACCOUNTS if a["role"] in roles])
                for role, roles in (("clinic", ("data_entry",)), ("district", ("supervisor",)),
                                    ("province", ("reviewer",)))}


# -- reading pages --------------------------------------------------------------------------


class _Form(HTMLParser):
    """The fields of the first form of a fragment as a browser would send them."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, str] = {}
        self.options: dict[str, list[str]] = defaultdict(list)
        self._select: str | None = None
        self._done = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if self._done or not a.get("name") and tag != "option":
            return
        if tag == "input" and a.get("type") not in ("submit", "checkbox", "radio"):
            self.values.setdefault(a["name"], a.get("value") or "")
        elif tag == "select":
            self._select = a["name"]
            self.values.setdefault(a["name"], "")
        elif tag == "option" and self._select:
            if a.get("value"):
                self.options[self._select].append(a["value"])
            if "selected" in a:
                self.values[self._select] = a.get("value") or ""
        elif tag == "textarea":
            self.values.setdefault(a["name"], "")

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "form":
            self._done = True


def form_values(html: str) -> tuple[dict[str, str], dict[str, list[str]]]:
    parser = _Form()
    parser.feed(html)
    return parser.values, parser.options


def links(html: str, pattern: str) -> list[str]:
    return [unescape(m) for m in re.findall(rf'href="({pattern})"', html)]


# -- the people -------------------------------------------------------------------------------


class Person(HttpUser):
    abstract = True
    kind = "clinic"
    wait_time = between(1, 4)

    def on_start(self) -> None:
        self.client.headers["X-Forwarded-For"] = next(ADDRESSES)
        self.csrf = ""
        self.account = next(_ROUND_ROBIN[self.kind])
        self.sign_in()

    # requests -------------------------------------------------------------------------------

    def _check(self, response, expected, kind, location=None):
        if location and not response.headers.get("Location", "").endswith(location):
            response.failure(f"{kind}: sent to {response.headers.get('Location')!r}")
        elif response.status_code == 429:
            THROTTLED[kind] += 1
            response.success()
        elif response.status_code not in expected:
            response.failure(f"{kind}: HTTP {response.status_code}")
        else:
            found = CSRF.search(response.text or "")
            if found:
                self.csrf = unescape(found.group(1))
            response.success()
        return response

    def get(self, url: str, kind: str, expected=(200,), **kwargs):
        with self.client.get(url, name=kind, catch_response=True, allow_redirects=False,
                             **kwargs) as response:
            return self._check(response, expected, kind)

    def post(self, url: str, data: dict, kind: str, expected=(200, 303), headers=None,
             location: str | None = None):
        """``location``: the end of the Location header the answer must have."""
        headers = {"X-CSRFToken": self.csrf, **(headers or {})}
        with self.client.post(url, data=data, name=kind, catch_response=True,
                              allow_redirects=False, headers=headers) as response:
            return self._check(response, expected, kind, location)

    # signing in -----------------------------------------------------------------------------

    def sign_in(self) -> None:
        account = self.account
        with SIGN_IN_LOCKS[account["username"]]:
            self.get("/auth/login", "sign-in: page")
            since = GATEWAY.count(account["phone"])
            answer = self.post("/auth/login", {"username": account["username"],
                                               "password": account["password"]},
                               "sign-in: password", expected=(303,), location="/auth/otp")
            if not answer.headers.get("Location", "").endswith("/auth/otp"):
                raise StopUser()
            # the sign-in code's message, not the first code to this phone: another person
            # on the same reviewer account may be sent an export's code meanwhile
            code = GATEWAY.code(account["phone"], since, naming=SIGN_IN_SMS)
            # still under the account's lock: another person signing in with the same account
            # gets a new code, and the app's earlier open code for the account stops working
            self.get("/auth/otp", "sign-in: code page")
            answer = self.post("/auth/otp", {"code": code}, "sign-in: code", expected=(303,),
                               location="/")  # home: signed in (not /auth/otp, /auth/password)
        if answer.headers.get("Location") != "/":
            raise StopUser()
        self.get("/", "home")

    # shared tasks ---------------------------------------------------------------------------

    def page_through(self) -> str:
        html = self.get("/recipients/", "register: first page").text
        for page in range(2, random.randint(2, 4)):
            html = self.get(f"/recipients/?page={page}", "register: next page").text or html
            gevent.sleep(random.uniform(0.5, 1.5))
        return html

    def type_search(self) -> str:
        """One keystroke pause after another, as htmx posts them (``delay:400ms``)."""
        typed = random.choice(TYPED)
        stops = sorted({random.randint(2, len(typed)) for _ in range(3)} | {len(typed)})
        html = ""
        for stop in stops:
            html = self.post("/recipients/", {"q": typed[:stop], "facility_id": "",
                                              "vaccine_id": "", "s": ""},
                             "register: search as you type (htmx POST)", expected=(200,),
                             headers=HX).text or html
            gevent.sleep(random.uniform(0.4, 0.9))
        return html


class ClinicUser(Person):
    weight = 7
    kind = "clinic"

    @task(6)
    def search(self) -> None:
        self.type_search()

    @task(3)
    def browse(self) -> None:
        self.page_through()

    @task(2)
    def record_dose(self) -> None:
        forms = links(self.type_search() or self.page_through(),
                      r"/recipients/\d+/doses/new[^\"]*")
        if not forms:
            return
        url = random.choice(forms)
        form = self.get(url, "dose: form", headers=HX).text
        values, options = form_values(form)
        if not values.get("vaccine_id") and options.get("vaccine_id"):
            values["vaccine_id"] = random.choice(options["vaccine_id"])
        values.update({"aefi": "none", "confirm_interval": "1", "confirm_lot": "1"})
        values["given_on"] = values.get("given_on") or date.today().strftime("%d/%m/%Y")
        if not values.get("lot_number"):
            values["lot_number"] = f"LT{random.randint(1000, 9999)}"
            values["lot_expires_on"] = (date.today() + timedelta(days=365)).strftime("%d/%m/%Y")
        values["vaccinator"] = values.get("vaccinator") or "Nguyễn Thị Tải"
        gevent.sleep(random.uniform(2, 5))  # the nurse fills the form in
        kind = "dose: record (htmx POST)"
        with self.client.post(url.split("/new")[0], data=values, name=kind, headers={
                "X-CSRFToken": self.csrf, **HX}, catch_response=True,
                allow_redirects=False) as answer:
            if answer.status_code == 200 and "<form" in answer.text:  # not the saved dose
                answer.failure("the dose form came back: the dose was not recorded")
            else:
                self._check(answer, (200,), kind)


class SupervisorUser(Person):
    weight = 2
    kind = "district"

    @task(3)
    def dashboard(self) -> None:
        html = self.get("/reports/", "reports: dashboard").text
        pages = links(html, r"/reports/f/\d+")
        if pages:
            self.get(random.choice(pages), "reports: a facility")

    @task(2)
    def audit(self) -> None:
        self.get("/audit/", "audit: trail")

    @task(2)
    def browse(self) -> None:
        self.page_through()


class ExportUser(Person):
    weight = 1
    kind = "province"
    wait_time = between(5, 15)

    @task
    def export(self) -> None:
        self.get("/exports/new", "export: statement")
        since = GATEWAY.count(self.account["phone"])
        answer = self.post("/exports/new", {"s": ""}, "export: request code", expected=(303,))
        found = re.search(r"/exports/([0-9a-f]{32})$", answer.headers.get("Location", ""))
        if not found:
            return
        job = found.group(1)
        if self.get(f"/exports/{job}", "export: code page").status_code != 200:
            return
        code = GATEWAY.code(self.account["phone"], since, naming=job[:8].upper())
        self.post(f"/exports/{job}/confirm", {"code": code}, "export: confirm with code",
                  expected=(303,))
        for _ in range(60):  # the progress, as the page's htmx polls it
            html = self.get(f"/exports/{job}", "export: progress (htmx poll)", headers=HX).text
            if f"/exports/{job}/download" in (html or ""):
                self.get(f"/exports/{job}/download", "export: download")
                return
            gevent.sleep(2)
