"""``manage.py seed_demo``: the quick start's data, safe to run on every ``make run``."""

import pytest
from django.contrib.auth import get_user_model

from conversations.models import Conversation
from conversations.services import api_key_authenticate


@pytest.mark.django_db
def test_seed_demo_twice_keeps_one_set_of_demo_data_and_prints_a_working_key(run):
    run("seed_demo")
    out, _ = run("seed_demo")

    lines = out.strip().splitlines()
    assert lines[0] == "Project:      demo (3 conversations)"
    assert lines[1].startswith("Staff login:  admin / ")
    raw_key = lines[-1].removeprefix("API key:      ")
    assert api_key_authenticate(raw_key).project.name == "demo"
    assert Conversation.objects.filter(project__name="demo").count() == 3
    assert get_user_model().objects.filter(username="admin", is_staff=True).count() == 1
