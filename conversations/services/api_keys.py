"""Projects and API keys: keys are stored as SHA-256 digests and shown once.

**Key cache.** :func:`api_key_authenticate` keeps each process's successful lookups for
``CONVSTORE_API_KEY_CACHE_SECONDS`` (default 5 s; ``0`` looks every request up), so a
request usually costs no key query. The price is a bounded revocation delay: a key revoked
by another process (the admin, ``revoke_api_key``, another gunicorn worker) keeps working in
a process that looked it up less than that many seconds ago, and never longer; the process
that revokes it forgets it at once. Failed lookups are never cached (a wrong key costs a
query every time, and random keys cannot fill the cache), and the cache holds at most
:data:`API_KEY_CACHE_MAX_ENTRIES` keys (it is emptied when full).
"""

from __future__ import annotations

import secrets
import time
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from conversations.models import API_KEY_PREFIX, ApiKey, Project, hash_api_key

API_KEY_TOUCH_INTERVAL = timedelta(seconds=60)
API_KEY_CACHE_MAX_ENTRIES = 10_000

#: The cache's clock (seconds, monotonic); tests replace it to step time without sleeping.
clock = time.monotonic

# key digest -> (monotonic expiry, ApiKey with its project); see the module docstring.
_cache: dict[str, tuple[float, ApiKey]] = {}


def api_key_cache_seconds() -> float:
    """How long a looked-up key is trusted without a query (``CONVSTORE_API_KEY_CACHE_SECONDS``)."""
    return float(settings.CONVSTORE_API_KEY_CACHE_SECONDS)


def project_get_or_create(*, name: str) -> Project:
    """Return the project called ``name``, creating it if new."""
    project, _ = Project.objects.get_or_create(name=name)
    return project


def api_key_create(*, project: Project, name: str = "") -> tuple[ApiKey, str]:
    """Create a key for ``project``; returns ``(ApiKey, raw_key)``. The raw key is never stored."""
    raw_key = API_KEY_PREFIX + secrets.token_hex(20)
    api_key = ApiKey.objects.create(
        project=project,
        name=name,
        prefix=raw_key[: ApiKey.PREFIX_LENGTH],
        key_hash=hash_api_key(raw_key),
    )
    return api_key, raw_key


def api_key_authenticate(raw_key: str) -> ApiKey | None:
    """Return the active key matching ``raw_key`` (with its project), or ``None``.

    A key found less than ``CONVSTORE_API_KEY_CACHE_SECONDS`` ago in this process is answered
    from memory (see the module docstring for the revocation delay this bounds).
    ``last_used_at`` is refreshed at most once per :data:`API_KEY_TOUCH_INTERVAL`, so a burst of
    requests costs one write, not one each.
    """
    if not raw_key or len(raw_key) > 256:
        return None
    digest = hash_api_key(raw_key)
    cached = _cache.get(digest)
    if cached is not None and cached[0] > clock():
        api_key = cached[1]
    else:
        try:
            api_key = ApiKey.objects.select_related("project").get(
                key_hash=digest, revoked_at__isnull=True
            )
        except ApiKey.DoesNotExist:
            _cache.pop(digest, None)
            return None
        ttl = api_key_cache_seconds()
        if ttl > 0:
            if len(_cache) >= API_KEY_CACHE_MAX_ENTRIES:
                _cache.clear()
            _cache[digest] = (clock() + ttl, api_key)
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at > API_KEY_TOUCH_INTERVAL:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
    return api_key


def api_key_revoke(*, api_key: ApiKey) -> bool:
    """Revoke a key; returns ``False`` if it was already revoked (a no-op)."""
    _cache.pop(api_key.key_hash, None)
    if api_key.revoked_at is not None:
        return False
    api_key.revoked_at = timezone.now()
    api_key.save(update_fields=["revoked_at"])
    return True
