"""Imports every domain's models so the metadata is complete (migrations, tests).

The models themselves live with their domain: ``facilities.models``, ``auth.models``,
``recipients.models``, ``exports.models``, ``audit.models``.
"""

from vaxportal.audit.models import *  # noqa: F401,F403
from vaxportal.auth.models import *  # noqa: F401,F403
from vaxportal.certificates.models import *  # noqa: F401,F403
from vaxportal.exports.models import *  # noqa: F401,F403
from vaxportal.facilities.models import *  # noqa: F401,F403
from vaxportal.recipients.models import *  # noqa: F401,F403
from vaxportal.reports.models import *  # noqa: F401,F403
