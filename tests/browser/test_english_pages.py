"""English pages: a label that wraps onto two lines keeps its value beside it, and the next
label starts a new row (issue 14)."""

from __future__ import annotations

from datetime import date

from tests.helpers import PASSWORD
from vaxportal.extensions import db
from vaxportal.recipients.services import create_recipient


def test_english_record_keeps_labels_and_values_aligned(ui, factory):
    station = factory.facility("S1", "commune_station", name="Trạm Y tế Mỹ Bình")
    nurse = factory.account("data_entry", facility=station)
    recipient = create_recipient({"full_name": "Nguyễn Văn An", "gender": "male",
                                  "date_of_birth": date(1980, 9, 5),
                                  "national_id": "089080123456", "province": "An Giang"},
                                 station.id)
    db.session.commit()
    ui.sign_in(nurse.username, PASSWORD)
    ui.page.select_option("#lang-select", "en")
    ui.submit("form.lang-switch button[type=submit]")
    ui.page.set_viewport_size({"width": 1024, "height": 768})  # the commune station's PC
    ui.goto(f"/recipients/{recipient.id}")
    assert "Address" in ui.text() and "IP address" not in ui.text()
    rows = ui.page.eval_on_selector_all(".kv dt", """(dts) => dts.map((dt) => {
        const dd = dt.nextElementSibling, a = dt.getBoundingClientRect(),
              b = dd.getBoundingClientRect();
        return [dt.textContent.trim(), Math.round(a.top), Math.round(b.top),
                Math.round(Math.max(a.bottom, b.bottom))];
    })""")
    assert any(label.startswith("Health insurance") for label, *_ in rows)
    for (label, dt_top, dd_top, _bottom) in rows:
        assert abs(dt_top - dd_top) <= 1, f"{label!r}: its value is not beside it"
    for (label, _t, _d, bottom), (following, top, _dd, _b) in zip(rows, rows[1:], strict=False):
        assert top >= bottom - 1, f"{following!r} starts beside {label!r}"
