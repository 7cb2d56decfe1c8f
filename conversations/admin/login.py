"""The admin login page's notice about django-axes' lockout rule
(``convstore/templates/admin/login.html``)."""

from __future__ import annotations

from django.conf import settings


def lockout_notice(request) -> str:
    """What the login page says about django-axes' lockout (``AXES_FAILURE_LIMIT`` failed
    attempts from one address lock it out for ``AXES_COOLOFF_TIME``): the rule before any
    failure, then how many attempts are left."""
    from axes.handlers.proxy import AxesProxyHandler

    limit = settings.AXES_FAILURE_LIMIT
    cooloff = settings.AXES_COOLOFF_TIME
    minutes = int(cooloff.total_seconds() // 60) if cooloff else 0
    span = f"{minutes // 60} h" if minutes and minutes % 60 == 0 else f"{minutes} min"
    failures = AxesProxyHandler.get_failures(request) if request.method == "POST" else 0
    left = max(limit - failures, 0)
    if failures == 0:
        return f"After {limit} failed sign-ins from this address, sign-in is locked for {span}."
    attempt = "attempt" if left == 1 else "attempts"
    return f"{left} {attempt} left before sign-in from this address is locked for {span}."
