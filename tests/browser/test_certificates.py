"""Browser journey of certificates (issue 16): a nurse issues a certificate from a record and
prints it; the QR photographed from the printed page (a screenshot in print media) decodes
with zxing-cpp to the very HC1 string the app signed; a visitor without an account checks it
on /verify."""

from __future__ import annotations

import io
import os
from datetime import date

import pytest
import sqlalchemy as sa
import zxingcpp
from PIL import Image

from tests.browser.ui import SCREENSHOTS, SERIOUS
from tests.helpers import PASSWORD
from vaxportal.certificates.models import Certificate
from vaxportal.extensions import db
from vaxportal.recipients.models import Dose, Vaccine
from vaxportal.recipients.services import create_recipient
from vaxportal.recipients.vaccines import seed_vaccines


@pytest.fixture
def vaccinated(factory):
    station = factory.facility("S1", "commune_station", name="Trạm Y tế Mỹ Bình")
    seed_vaccines()
    recipient = create_recipient({"full_name": "Nguyễn Thị Đào", "gender": "female",
                                  "date_of_birth": date(1985, 2, 14),
                                  "national_id": "089185000123"}, station.id)
    vaccine = db.session.scalar(sa.select(Vaccine).where(Vaccine.code == "PFIZER"))
    for number, given_on in ((1, date(2021, 8, 2)), (2, date(2021, 8, 23))):
        db.session.add(Dose(recipient_id=recipient.id, facility_id=station.id,
                            vaccine_id=vaccine.id, lot_number=f"FK{number}",
                            dose_number=number, given_on=given_on, vaccinator="Lê Thị Tiêm"))
    db.session.commit()
    nurse = factory.account("data_entry", facility=station, full_name="Trần Thị Nhập")
    return nurse, recipient


#: an A5 sheet at 96 dpi, less the page's 10 mm margins: how the printed page lays out
A5 = {"width": 484, "height": 718}


def _decode(png: bytes) -> list[str]:
    image = Image.open(io.BytesIO(png)).convert("L")
    return [barcode.text for barcode in zxingcpp.read_barcodes(image)]


def test_issue_print_and_verify_a_certificate(ui, browser, live_server, vaccinated, js):
    nurse, recipient = vaccinated
    ui.sign_in(nurse.username, PASSWORD)
    ui.goto(f"/recipients/{recipient.id}")
    ui.check()
    ui.submit("#certificates button[type=submit]")
    certificate = db.session.scalar(sa.select(Certificate))
    assert certificate is not None
    ui.arrive(f"/certificates/{certificate.id}")
    ui.check()
    assert "14/02/1985" in ui.text() and "Date of birth" in ui.text()

    ui.page.emulate_media(media="print")
    ui.page.set_viewport_size(A5)
    printed = ui.page.screenshot(full_page=True)
    assert _decode(printed) == [certificate.hc1]
    if js and os.environ.get("VAXPORTAL_SCREENSHOTS"):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        (SCREENSHOTS / "certificate.png").write_bytes(printed)
    ui.page.emulate_media(media="screen")
    ui.page.set_viewport_size({"width": 1280, "height": 860})

    # a verifier without an account, in a browser of their own
    context = browser.new_context(base_url=live_server, java_script_enabled=js,
                                  locale="vi-VN", viewport={"width": 1280, "height": 860})
    try:
        page = context.new_page()
        page.goto("/verify")
        page.fill("textarea[name=hc1]", certificate.hc1)
        with page.expect_response(lambda r: r.request.method == "POST"):
            page.locator("main form button[type=submit]").click()
        page.wait_for_load_state("load")
        assert page.get_attribute("#verify-outcome", "data-outcome") == "valid"
        shown = page.inner_text("#verify-result")
        assert "Nguyễn Thị Đào" in shown and "14/02/1985" in shown
        assert recipient.national_id not in page.content()
        if js:
            from axe_playwright_python.sync_playwright import Axe

            found = Axe().run(page).response["violations"]
            assert not [v["id"] for v in found if v.get("impact") in SERIOUS]
        if js and os.environ.get("VAXPORTAL_SCREENSHOTS"):
            page.screenshot(path=str(SCREENSHOTS / "verify.png"), full_page=True)
    finally:
        context.close()
