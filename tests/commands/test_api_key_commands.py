"""``list_api_keys``, ``revoke_api_key`` and the existing ``create_api_key``."""

import pytest
from django.core.management import CommandError

from conversations.models import ApiKey
from conversations.services import api_key_authenticate, api_key_create, project_get_or_create


@pytest.mark.django_db
def test_create_prints_the_key_alone_on_the_last_line(run):
    out, _ = run("create_api_key", "--project", "acme")

    raw_key = out.strip().splitlines()[-1]
    assert api_key_authenticate(raw_key).project.name == "acme"


@pytest.mark.django_db
def test_list_shows_prefixes_never_keys_and_filters_by_project(run, project):
    key, raw_key = api_key_create(project=project, name="bot")
    other, _ = api_key_create(project=project_get_or_create(name="globex"))

    out, _ = run("list_api_keys", "--project", "acme")

    assert key.prefix in out and "bot" in out and "active" in out
    assert other.prefix not in out
    assert raw_key not in out
    with pytest.raises(CommandError, match="No project named"):
        run("list_api_keys", "--project", "nope")


@pytest.mark.django_db
def test_revoke_by_prefix_or_id_and_report_repeats(run, project):
    key, raw_key = api_key_create(project=project)
    second, raw_second = api_key_create(project=project)

    out, _ = run("revoke_api_key", key.prefix + "…")
    again, _ = run("revoke_api_key", str(key.pk))
    run("revoke_api_key", str(second.pk))

    assert "Revoked API key" in out and "already revoked" in again
    assert api_key_authenticate(raw_key) is None
    assert api_key_authenticate(raw_second) is None
    listing, _ = run("list_api_keys")
    assert listing.count("revoked") == 2


@pytest.mark.django_db
def test_revoke_refuses_unknown_and_ambiguous_references(run, project):
    api_key_create(project=project)
    api_key_create(project=project)

    with pytest.raises(CommandError, match="No API key matches"):
        run("revoke_api_key", "cs_zzzz")
    with pytest.raises(CommandError, match="matches 2 keys"):
        run("revoke_api_key", "cs_")
    assert ApiKey.objects.filter(revoked_at__isnull=True).count() == 2


@pytest.mark.django_db
def test_revoke_by_any_start_of_the_key_or_the_whole_key(run, project):
    """Thirteen characters of the key, most of it, or all of it name the key; a whole-length
    key that is not the key (same listed prefix, wrong rest) names nothing."""
    for length in (13, 30, None):
        key, raw_key = api_key_create(project=project)
        out, _ = run("revoke_api_key", raw_key[:length])
        assert f"Revoked API key {key.prefix}…" in out
        assert api_key_authenticate(raw_key) is None
    key, raw_key = api_key_create(project=project)
    forged = raw_key[:-1] + ("0" if raw_key[-1] != "0" else "1")
    with pytest.raises(CommandError, match="No API key matches"):
        run("revoke_api_key", forged)
    assert api_key_authenticate(raw_key) is not None
