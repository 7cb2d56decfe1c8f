"""API-key lookups (services/api_keys.py): what a key costs in queries, and ``last_used_at``
refreshed at most once a minute (the admin's and ``list_api_keys``' *last used*)."""

import re
from datetime import timedelta

from django.utils import timezone

from conversations.models import API_KEY_LENGTH, ApiKey
from conversations.services import api_key_authenticate, api_key_create
from conversations.services.api_keys import API_KEY_TOUCH_INTERVAL


def test_a_key_longer_than_256_characters_is_refused_without_a_query(
    db, django_assert_num_queries
):
    with django_assert_num_queries(0):
        assert api_key_authenticate("cs_" + "a" * 254) is None  # 257 characters
    with django_assert_num_queries(1):
        assert api_key_authenticate("cs_" + "a" * 253) is None  # 256: looked up, unknown


def test_last_used_is_written_on_first_use_then_at_most_once_a_minute(project, settings):
    settings.CONVSTORE_API_KEY_CACHE_SECONDS = 0  # every call looks the key up
    key, raw = api_key_create(project=project)
    assert key.last_used_at is None

    before = timezone.now()
    assert api_key_authenticate(raw) == key
    first = ApiKey.objects.get(pk=key.pk).last_used_at
    assert first is not None and first >= before

    api_key_authenticate(raw)  # within the minute: no write
    assert ApiKey.objects.get(pk=key.pk).last_used_at == first

    earlier = first - API_KEY_TOUCH_INTERVAL - timedelta(seconds=1)
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=earlier)
    returned = api_key_authenticate(raw)
    assert ApiKey.objects.get(pk=key.pk).last_used_at == returned.last_used_at > first


def test_a_new_key_is_cs_and_40_hex_digits_with_no_name_unless_given(project):
    key, raw = api_key_create(project=project)
    assert re.fullmatch(r"cs_[0-9a-f]{40}", raw) and len(raw) == API_KEY_LENGTH
    assert (key.name, key.prefix) == ("", raw[: ApiKey.PREFIX_LENGTH])
