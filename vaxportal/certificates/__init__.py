"""The `certificates` domain: vaccination certificates in the EU DCC format.

Blueprint ``certificates`` at /certificates (issue, print, the revocation list) and the
public ``verify`` blueprint at /verify. Certificates listen to the recipients' dose signal:
a corrected or deleted dose revokes the certificates that carry it, in the same transaction.
"""

from flask import Blueprint

from vaxportal.certificates.listeners import connect
from vaxportal.certificates.present import OUTCOME_LABELS, both

bp = Blueprint("certificates", __name__, url_prefix="/certificates")
verify_bp = Blueprint("verify", __name__)


def init_app(app) -> None:
    # the routes import bp from this module: importing them at the top would be a cycle
    from vaxportal.certificates import cli, verify_views, views  # noqa: F401

    app.register_blueprint(bp)
    app.register_blueprint(verify_bp)
    app.cli.add_command(cli.group)
    app.add_template_global(views.recipient_certificates)
    app.add_template_global(both)
    app.add_template_global(OUTCOME_LABELS, "outcome_labels")
    connect()
