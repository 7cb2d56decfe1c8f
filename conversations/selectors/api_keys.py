"""Reads of API keys for the operator commands: list them, find one by a reference."""

from __future__ import annotations

from django.db.models import (
    QuerySet,
)

from conversations.models import (
    API_KEY_LENGTH,
    ApiKey,
    hash_api_key,
)


def api_key_list(*, project_name: str | None = None) -> QuerySet[ApiKey]:
    """API keys with their project, newest first; only ``project_name``'s when given."""
    queryset = ApiKey.objects.select_related("project").order_by("project__name", "-created_at")
    if project_name is not None:
        queryset = queryset.filter(project__name=project_name)
    return queryset


def api_key_find(*, reference: str) -> list[ApiKey]:
    """Keys matching ``reference``: a numeric id, a whole raw key, or any start of a key.

    A start shorter than the stored ``prefix`` (12 characters, as ``list_api_keys`` shows it)
    matches every key whose prefix begins with it; a longer one (13 characters of the key, up
    to all but the last) matches the keys whose stored prefix it begins with, since only the
    prefix is stored. A reference as long as a whole key must match a key's digest. Returns
    every match (the caller refuses to act on more than one).
    """
    reference = reference.strip().rstrip("…").rstrip(".")
    if not reference:
        return []
    if reference.isdigit():
        return list(ApiKey.objects.select_related("project").filter(pk=int(reference)))
    keys = ApiKey.objects.select_related("project")
    by_hash = list(keys.filter(key_hash=hash_api_key(reference)))
    if by_hash or len(reference) >= API_KEY_LENGTH:
        return by_hash
    prefix_length = ApiKey.PREFIX_LENGTH
    if len(reference) > prefix_length:
        return list(keys.filter(prefix=reference[:prefix_length])[:20])
    return list(keys.filter(prefix__startswith=reference)[:20])
