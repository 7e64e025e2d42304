"""vaxportal: vaccination records for health facilities under the Ministry's account policy."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

ROOT = Path(__file__).resolve().parent.parent


def create_app(config: dict | None = None) -> Flask:
    """Build the application; ``config`` overrides the defaults and the environment."""
    app = Flask(
        __name__,
        instance_path=str(ROOT / "instance"),
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    # not at the top: every vaxportal module runs this file first (a cycle through each)
    from vaxportal import (
        assets,
        audit,
        auth,
        backup,
        certificates,
        core,
        exports,
        extensions,
        facilities,
        i18n,
        jobs,
        policy,
        recipients,
        renderguard,
        reports,
        sms,
        web,
    )
    from vaxportal import (
        config as settings,
    )
    from vaxportal.audit import views as audit_views

    settings.load(app, config)
    extensions.init_app(app)
    policy.init_app(app)
    i18n.init_app(app)
    sms.init_app(app)
    web.init_app(app)
    renderguard.init_app(app)
    assets.init_app(app)
    jobs.init_app(app)
    audit.init_app(app)  # the trail: the session hook, its guards, its commands
    audit_views.init_app(app)  # reading the trail (above the domains), refused requests
    auth.init_app(app)
    facilities.init_app(app)
    recipients.init_app(app)
    exports.init_app(app)
    certificates.init_app(app)
    reports.init_app(app)
    backup.init_app(app)  # `vaxportal backup` / `restore`
    core.init_app(app)
    return app
