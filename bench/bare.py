"""The floor of the stack for ``bench/scale.py``: a bare Flask app whose one POST renders a
Jinja table of the same size as the register's search fragment (``BENCH_BARE_BYTES``),
served by the same gunicorn settings. No database, no session, no CSRF."""

from __future__ import annotations

import os

from flask import Flask, render_template_string, request

TEMPLATE = """<div id="results"><p>{{ q }}: {{ rows|length }}</p><table><tbody>
{% for row in rows %}<tr><td><a href="/recipients/{{ row.id }}">{{ row.name }}</a></td>
<td>{{ row.born }}</td><td>{{ row.nid }}</td><td>{{ row.place }}</td></tr>
{% endfor %}</tbody></table></div>"""
ROW = {"id": 123456, "name": "Nguyễn Thị Ngọc Anh", "born": "05/09/1980",
       "nid": "089180123456", "place": "Trạm Y tế Phường Long Xuyên"}

app = Flask(__name__)


def _rows() -> list[dict]:
    wanted = int(os.environ.get("BENCH_BARE_BYTES", "4000"))
    with app.app_context():
        one = len(render_template_string(TEMPLATE, q="x", rows=[ROW] * 2).encode()) - \
            len(render_template_string(TEMPLATE, q="x", rows=[ROW]).encode())
        empty = len(render_template_string(TEMPLATE, q="x", rows=[]).encode())
    return [ROW] * max(1, (wanted - empty) // max(1, one))


ROWS = _rows()


@app.post("/")
def page():
    return render_template_string(TEMPLATE, q=request.form.get("q", ""), rows=ROWS)
