"""What staff read on the admin pages: brand, one date format with its zone, badges, diffs."""

import re

import pytest

from conversations.admin.audit import metadata_diff

CHANGELIST = "/admin/conversations/conversation/"
DATE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC")


def test_metadata_diff_names_each_key():
    assert metadata_diff(None, {"a": "1"}) == [("+", "a", '"1"')]
    assert metadata_diff({"a": "1", "b": "2", "c": "3"}, {"a": "1", "b": "9", "d": "4"}) == [
        ("~", "b", '"2" → "9"'),
        ("−", "c", '"3"'),
        ("+", "d", '"4"'),
    ]
    assert metadata_diff({"a": "1"}, None) == [("−", "a", '"1"')]


@pytest.mark.django_db
def test_pages_are_branded_and_dates_carry_the_zone(admin_client, make_conversation):
    conversation = make_conversation({"customer_name": "Jane"}, messages=[("user", "hi")])
    admin_client.post(f"{CHANGELIST}{conversation.pk}/ai/off/")

    listing = admin_client.get(CHANGELIST).content.decode()
    page = admin_client.get(f"{CHANGELIST}{conversation.pk}/change/").content.decode()

    for html in (listing, page):
        assert "<title>" in html and "| convstore admin</title>" in html
        assert "Django administration" not in html
        assert "convstore/favicon.svg" in html
        assert "convstore/admin.css" in html
    assert 'class="ai-badge ai-state ai-off"' in listing
    assert 'class="ai-toggle turn-on"' in listing
    assert len(DATE.findall(page)) >= 5  # header, thread, audit (x2), activity
    assert "p.m." not in page and "a.m." not in page  # no second date format
    assert "<b>+</b> <code>ai_disabled</code> &quot;true&quot;" in page
