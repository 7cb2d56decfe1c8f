"""Settings for the test suite (pytest's ``DJANGO_SETTINGS_MODULE``): production settings with
a tests-only ``SECRET_KEY``, plain HTTP (``CONVSTORE_HTTPS=0``) and high rate limits.

The variables are set in the environment before :mod:`convstore.settings` is read, so that
production settings keep refusing to start without a key, and subprocesses the tests start
(``manage.py`` commands, gunicorn) inherit the same values. Tests of the limits themselves
lower them with ``override_settings``.
"""

import os

os.environ.setdefault("SECRET_KEY", "tests-only-key-" + "x7Qp2" * 10)
os.environ.setdefault("CONVSTORE_HTTPS", "0")
os.environ.setdefault("CONVSTORE_RATE_LIMIT", "100000/s")
os.environ.setdefault("CONVSTORE_AUTH_FAILURE_LIMIT", "100000/m")
# A loaded CI machine can stall a Redis answer past the production 0.25 s; the breaker test
# sets its own short timeout.
os.environ.setdefault("CONVSTORE_REDIS_TIMEOUT", "2")

from .settings import *  # noqa: E402, F403
