"""The WSGI entry point for a production server, e.g. ``gunicorn wsgi:app``.

Configuration comes from the environment (``VAXPORTAL_*``); outside debug the app refuses
to start without ``VAXPORTAL_SECRET_KEY`` and ``VAXPORTAL_OTP_ENCRYPTION_KEY``.
"""

from vaxportal import create_app

app = create_app()
