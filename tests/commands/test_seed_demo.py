"""``manage.py seed_demo``: the quick start's data, safe to run on every ``make run``."""

import json

import pytest
from django.contrib.auth import get_user_model

from conversations.models import ApiKey, Conversation
from conversations.services import api_key_authenticate, api_key_revoke


@pytest.mark.django_db
def test_seed_demo_twice_keeps_one_set_of_demo_data_and_prints_a_working_key(run, tmp_path):
    credentials = str(tmp_path / "demo.json")
    first, _ = run("seed_demo", credentials_file=credentials)
    out, _ = run("seed_demo", credentials_file=credentials)

    lines = out.strip().splitlines()
    assert lines[0] == "Project:      demo (3 conversations)"
    assert lines[1].startswith("Staff login:  admin / ")
    raw_key = lines[-1].removeprefix("API key:      ")
    assert api_key_authenticate(raw_key).project.name == "demo"
    assert Conversation.objects.filter(project__name="demo").count() == 3
    assert get_user_model().objects.filter(username="admin", is_staff=True).count() == 1
    # The second run prints the same login and key: what the first printed keeps working,
    # and no second demo key is made.
    assert out == first
    password = lines[1].removeprefix("Staff login:  admin / ").split()[0]
    assert get_user_model().objects.get(username="admin").check_password(password)
    assert ApiKey.objects.filter(project__name="demo").count() == 1
    assert (tmp_path / "demo.json").stat().st_mode & 0o777 == 0o600


@pytest.mark.django_db
def test_seed_demo_replaces_a_revoked_demo_key_without_piling_up(run, tmp_path):
    credentials = tmp_path / "demo.json"
    first, _ = run("seed_demo", credentials_file=str(credentials))
    old_key = first.strip().splitlines()[-1].removeprefix("API key:      ")
    api_key_revoke(api_key=api_key_authenticate(old_key))
    credentials.write_text("{}")  # forgotten as well: a fresh key, older demo keys revoked
    run("seed_demo", credentials_file=str(credentials))
    again, _ = run("seed_demo", credentials_file=str(credentials))

    new_key = again.strip().splitlines()[-1].removeprefix("API key:      ")
    assert new_key != old_key
    assert api_key_authenticate(new_key) is not None
    assert ApiKey.objects.filter(project__name="demo", revoked_at__isnull=True).count() == 1
    stored = json.loads(credentials.read_text())
    assert [entry["api_key"] for entry in stored.values()] == [new_key]
