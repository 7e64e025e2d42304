"""One pager and one table for every list (``templates/_macros.html``): a list page builds
neither its own page links nor its own table head."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
LISTS = ("audit/_rows.html", "auth/sessions.html", "certificates/_recipient.html",
         "exports/_import_progress.html", "exports/index.html", "facilities/_tree.html",
         "facilities/account.html", "facilities/approvals.html", "facilities/show.html",
         "recipients/_results.html", "recipients/lots.html", "reports/_quality_rows.html")


def test_only_the_macro_builds_page_links():
    own = [str(path.relative_to(TEMPLATES)) for path in TEMPLATES.rglob("*.html")
           if path.name != "_macros.html" and 'class="pagination"' in path.read_text()]
    assert own == []


@pytest.mark.parametrize("name", LISTS)
def test_each_list_renders_through_the_table_macro(name):
    text = (TEMPLATES / name).read_text()
    assert "call table(" in text
    assert "<thead" not in text


def test_the_register_pages_through_the_macro_with_htmx(app, signed_in, factory):
    """The register's next page: a plain link that works without JavaScript, and the same
    URL for htmx to swap the results in place."""
    from vaxportal.extensions import db
    from vaxportal.recipients.services import create_recipient

    place = factory.place()
    nurse = signed_in("data_entry", facility=place["s1"])
    app.config["PAGE_SIZE"] = 2
    for n in range(3):
        create_recipient({"full_name": f"Người Thứ {n}", "gender": "female",
                          "date_of_birth": date(1980, 1, 1),
                          "national_id": f"08908030{n:04d}"}, place["s1"].id)
    db.session.commit()
    page = nurse.get("/recipients/").get_data(as_text=True)
    assert 'rel="next"' in page and 'hx-target="#results"' in page
    assert "Trang 1 / 2" in page
