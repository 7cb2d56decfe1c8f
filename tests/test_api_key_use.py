"""API-key lookups (services/api_keys.py): what a key costs in queries, the per-process key
cache's bounds (its time and its size), and ``last_used_at`` refreshed at most once a minute
(the admin's and ``list_api_keys``' *last used*)."""

import re
from datetime import timedelta

from django.utils import timezone

from conversations.models import API_KEY_LENGTH, ApiKey
from conversations.services import api_key_authenticate, api_key_create, api_keys
from conversations.services.api_keys import API_KEY_TOUCH_INTERVAL


def test_a_key_longer_than_256_characters_is_refused_without_a_query(db, django_assert_num_queries):
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


def test_a_key_is_answered_from_the_cache_only_before_its_time_is_up(
    project, settings, monkeypatch
):
    """Trusted for less than ``CONVSTORE_API_KEY_CACHE_SECONDS``, never for that long: at the
    exact instant the time is up, the key is looked up again (and found revoked)."""
    now = [1000.0]
    monkeypatch.setattr(api_keys, "clock", lambda: now[0])
    settings.CONVSTORE_API_KEY_CACHE_SECONDS = 0.5
    key, raw = api_key_create(project=project)
    assert api_key_authenticate(raw) == key
    ApiKey.objects.filter(pk=key.pk).update(revoked_at=timezone.now())  # by another process
    now[0] = 1000.5
    assert api_key_authenticate(raw) is None


def test_one_query_finds_the_key_and_its_project(project, settings, django_assert_num_queries):
    settings.CONVSTORE_API_KEY_CACHE_SECONDS = 0
    key, raw = api_key_create(project=project)
    api_key_authenticate(raw)  # first use: also writes last_used_at
    with django_assert_num_queries(1):
        assert api_key_authenticate(raw).project.name == project.name


def test_the_cache_holds_at_most_its_bound_then_starts_over(
    project, settings, monkeypatch, django_assert_num_queries
):
    """Full at :data:`API_KEY_CACHE_MAX_ENTRIES` keys (2 here): the next key found empties it
    and is kept alone, so a key cached before needs a query again."""
    settings.CONVSTORE_API_KEY_CACHE_SECONDS = 60
    monkeypatch.setattr(api_keys, "API_KEY_CACHE_MAX_ENTRIES", 2)
    monkeypatch.setattr(api_keys, "_cache", {})
    (one, raw_one), (two, raw_two), (three, raw_three) = (
        api_key_create(project=project) for _ in range(3)
    )
    assert (api_key_authenticate(raw_one), api_key_authenticate(raw_two)) == (one, two)
    with django_assert_num_queries(0):  # at the bound, not over it: both kept
        assert (api_key_authenticate(raw_one), api_key_authenticate(raw_two)) == (one, two)
    assert api_key_authenticate(raw_three) == three
    with django_assert_num_queries(0):
        assert api_key_authenticate(raw_three) == three
    with django_assert_num_queries(1):
        assert api_key_authenticate(raw_one) == one


def test_a_key_found_revoked_leaves_the_cache_and_takes_no_place_in_it(
    project, settings, monkeypatch, django_assert_num_queries
):
    now = [1000.0]
    monkeypatch.setattr(api_keys, "clock", lambda: now[0])
    settings.CONVSTORE_API_KEY_CACHE_SECONDS = 60
    monkeypatch.setattr(api_keys, "API_KEY_CACHE_MAX_ENTRIES", 2)
    monkeypatch.setattr(api_keys, "_cache", {})
    (gone, raw_gone), (one, raw_one), (two, raw_two) = (
        api_key_create(project=project) for _ in range(3)
    )
    assert api_key_authenticate(raw_gone) == gone
    ApiKey.objects.filter(pk=gone.pk).update(revoked_at=timezone.now())  # by another process
    now[0] += 60
    assert api_key_authenticate(raw_gone) is None
    assert (api_key_authenticate(raw_one), api_key_authenticate(raw_two)) == (one, two)
    with django_assert_num_queries(0):  # both fit: the revoked key's entry is gone
        assert (api_key_authenticate(raw_one), api_key_authenticate(raw_two)) == (one, two)
