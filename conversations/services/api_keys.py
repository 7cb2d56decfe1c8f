"""Projects and API keys: keys are stored as SHA-256 digests and shown once."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.utils import timezone

from ..models import ApiKey, Project

API_KEY_PREFIX = "cs_"
API_KEY_TOUCH_INTERVAL = timedelta(seconds=60)


def hash_api_key(raw_key: str) -> str:
    """SHA-256 hex digest of a raw key (keys carry 160 random bits, so no slow hash is needed)."""
    return hashlib.sha256(raw_key.encode("utf-8", "surrogatepass")).hexdigest()


def project_get_or_create(*, name: str) -> Project:
    """Return the project called ``name``, creating it if new."""
    project, _ = Project.objects.get_or_create(name=name)
    return project


def api_key_create(*, project: Project, name: str = "") -> tuple[ApiKey, str]:
    """Create a key for ``project``; returns ``(ApiKey, raw_key)``. The raw key is never stored."""
    raw_key = API_KEY_PREFIX + secrets.token_hex(20)
    api_key = ApiKey.objects.create(
        project=project, name=name, prefix=raw_key[:12], key_hash=hash_api_key(raw_key)
    )
    return api_key, raw_key


def api_key_authenticate(raw_key: str) -> ApiKey | None:
    """Return the active key matching ``raw_key`` (with its project), or ``None``.

    ``last_used_at`` is refreshed at most once per :data:`API_KEY_TOUCH_INTERVAL`, so a burst of
    requests costs one write, not one each.
    """
    if not raw_key or len(raw_key) > 256:
        return None
    try:
        api_key = ApiKey.objects.select_related("project").get(
            key_hash=hash_api_key(raw_key), revoked_at__isnull=True
        )
    except ApiKey.DoesNotExist:
        return None
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at > API_KEY_TOUCH_INTERVAL:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
    return api_key


def api_key_revoke(*, api_key: ApiKey) -> bool:
    """Revoke a key; returns ``False`` if it was already revoked (a no-op)."""
    if api_key.revoked_at is not None:
        return False
    api_key.revoked_at = timezone.now()
    api_key.save(update_fields=["revoked_at"])
    return True
