"""Another process counting with the rate limiter: ``python -m tests.ratelimit_process RATE ID``.

Counts two requests of the API key whose database id is ``ID`` under the rate ``RATE``
through :func:`conversations.http.ratelimit.check_request` (no database needed: counters are
named by the key's id), printing the first's count and ``3`` when the second was refused.
Used by ``tests/ratelimits/test_redis_store.py`` to show counts are shared between processes.
"""

import os
import sys

import django


def main(rate: str, key_id: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "convstore.test_settings")
    django.setup()
    from django.conf import settings

    from conversations.http import ratelimit

    settings.CONVSTORE_RATE_LIMIT = rate
    usage = ratelimit.check_request(key_id, "127.0.0.2")
    print(usage.limit - usage.remaining)
    try:
        ratelimit.check_request(key_id, "127.0.0.2")
    except ratelimit.RateLimited:
        print(3)


if __name__ == "__main__":
    main(*sys.argv[1:3])
