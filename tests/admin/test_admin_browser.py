"""The admin in a real browser: Playwright driving Debian's chromium against a live server.

Screenshots land in ``test-artifacts/`` (gitignored).
"""

import pytest

from conversations import services
from conversations.models import Conversation, MetadataChange
from tests.admin.conftest import PASSWORD
from tests.browser import ARTIFACTS

pytest.importorskip("playwright.sync_api")


def log_in(page, live_server):
    page.goto(f"{live_server.url}/admin/")
    page.fill("#id_username", "support")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")


@pytest.mark.django_db(transaction=True)
def test_staff_searches_flips_the_switch_and_edits_metadata_in_a_browser(
    live_server, browser_page, staff_user, make_conversation
):
    page = browser_page
    jane = make_conversation({"customer_name": "Jane Doe", "order_id": "ORD-1"})
    make_conversation({"customer_name": "Omar"})

    log_in(page, live_server)
    page.goto(f"{live_server.url}/admin/conversations/conversation/")
    page.fill("#searchbar", "Jane Doe")
    page.press("#searchbar", "Enter")
    page.wait_for_selector(f"button[data-conversation='{jane.pk.hex}']")
    assert page.locator("#result_list tbody tr").count() == 1
    page.screenshot(path=str(ARTIFACTS / "admin-search.png"), full_page=True)

    page.click(f"button[data-conversation='{jane.pk.hex}']")
    page.wait_for_selector("ul.messagelist")
    assert "AI turned off" in page.inner_text("ul.messagelist")
    assert "AI off" in page.inner_text("#result_list")
    assert "q=Jane" in page.url  # back on the same search
    page.screenshot(path=str(ARTIFACTS / "admin-ai-flipped.png"), full_page=True)
    jane.refresh_from_db()
    assert jane.ai_disabled is True

    page.goto(f"{live_server.url}/admin/conversations/conversation/{jane.pk}/change/")
    page.fill("input[name='meta-3-key']", "k" * 80)
    page.fill("input[name='meta-3-value']", "too long a key")
    page.click("input[name='_save']")
    page.wait_for_selector(".metadata-row.errors")
    assert "too long" in page.inner_text(".metadata-row.errors")
    page.screenshot(path=str(ARTIFACTS / "admin-metadata-row-error.png"), full_page=True)
    jane.refresh_from_db()
    assert "k" * 80 not in jane.metadata

    page.fill("input[name='meta-3-key']", "tier")
    page.fill("input[name='meta-3-value']", "gold")
    order_row = page.locator(".metadata-row", has=page.locator("input[value='order_id']"))
    order_row.locator("input[type=checkbox]").check()
    page.click("input[name='_save']")
    page.wait_for_selector("ul.messagelist")
    page.screenshot(path=str(ARTIFACTS / "admin-metadata-saved.png"), full_page=True)

    jane.refresh_from_db()
    assert jane.metadata == {"customer_name": "Jane Doe", "ai_disabled": "true", "tier": "gold"}
    changes = MetadataChange.objects.filter(conversation=jane, source="admin").order_by("id")
    assert [(c.action, c.user_id) for c in changes] == [
        ("ai_switch", staff_user.pk),
        ("replace", staff_user.pk),
    ]
    page.goto(f"{live_server.url}/admin/conversations/conversation/{jane.pk}/change/")
    assert page.locator("#audit .audit-row").count() == 3  # create + the two staff changes
    assert Conversation.objects.get(pk=jane.pk).ai_disabled is True


def seed_support_queue(make_conversation):
    """A realistic queue: channels, an AI switched off, long values, a long thread."""
    jane = make_conversation(
        {
            "customer_name": "Jane Doe",
            "order_id": "ORD-12345",
            "topic": "delivery",
            "telnyx_conversation_channel": "sms_chat",
            "assistant_id": "assistant-4f2a",
            "shipping_address": "221B Baker Street, London NW1 6XE, United Kingdom",
        },
        messages=[
            ("user", "Hi, where is my order ORD-12345? It was due yesterday."),
            ("assistant", "Sorry about that! It left our warehouse this morning."),
            ("user", "Can it still arrive before Friday? I am travelling."),
            ("assistant", "Yes: the courier shows delivery on Thursday between 9 and 12."),
            ("user", "Great, thanks. Could a person confirm the address?"),
        ],
        channel="sms",
        phone_number="+15551234567",
        participant="+15559876543",
    )
    make_conversation(
        {"customer_name": "Omar Li", "assistant_id": "assistant-123", "ai_disabled": "true"},
        messages=[("user", "I want to talk to a person."), ("assistant", "Connecting you now.")],
        channel="voice",
    )
    make_conversation(
        {"customer_name": "Ada K", "telnyx_conversation_channel": "web_chat", "tier": "gold"},
        messages=[("user", "Do you ship to Canada?")],
        channel="web_chat",
    )
    make_conversation({}, channel="whatsapp")
    return jane


@pytest.mark.django_db(transaction=True)
def test_screenshots_of_list_page_row_error_and_api_keys(
    live_server, browser_page, staff_user, make_conversation, project
):
    """The four pages staff see most, at 1400×900, saved to test-artifacts/."""
    page = browser_page
    jane = seed_support_queue(make_conversation)
    services.api_key_create(project=project, name="support bot")
    services.api_key_create(project=project, name="webhook relay")
    log_in(page, live_server)
    assert page.title().endswith("convstore admin")
    assert "convstore" in page.inner_text("#site-name")
    assert page.locator("link[rel=icon]").get_attribute("href").endswith("convstore/favicon.svg")

    page.goto(f"{live_server.url}/admin/conversations/conversation/")
    row = page.locator(
        "#result_list tbody tr", has=page.locator(f"[data-conversation='{jane.pk.hex}']")
    )
    assert row.locator(".ai-badge.ai-on").inner_text().strip() == "AI on"
    assert "Turn AI off" in row.locator("button.ai-toggle.turn-off").inner_text()
    assert row.locator(".md-pair").count() == 6
    assert "UTC" in row.locator("td.field-last_activity").inner_text()
    page.screenshot(path=str(ARTIFACTS / "admin-list.png"))

    page.goto(f"{live_server.url}/admin/conversations/conversation/{jane.pk}/change/")
    assert page.locator("#conversation-head .ai-badge.ai-on").is_visible()
    bubbles = page.locator("#thread .bubble")
    assert bubbles.count() == 5
    assert "a person confirm" in bubbles.nth(4).inner_text()  # newest last
    thread_top = page.locator("#thread").bounding_box()["y"]
    save_top = page.locator("input[name='_save']").bounding_box()["y"]
    assert thread_top < save_top  # the thread is near the top, not below Save
    assert thread_top < 400
    page.screenshot(path=str(ARTIFACTS / "admin-change.png"))

    page.fill("input[name='meta-6-key']", "k" * 80)
    page.fill("input[name='meta-6-value']", "too long a key")
    page.click("input[name='_save']")
    page.wait_for_selector(".metadata-row.errors")
    page.evaluate(
        "document.querySelector('.metadata-row.errors').scrollIntoView({block: 'center'})"
    )
    assert "too long" in page.inner_text(".metadata-row.errors")
    page.screenshot(path=str(ARTIFACTS / "admin-row-error.png"))

    page.click("#ai-switch-form button")
    page.wait_for_selector("ul.messagelist")
    assert page.locator("#conversation-head .ai-badge.ai-off").is_visible()
    assert "Turn AI on" in page.inner_text("#ai-switch-form")
    page.screenshot(path=str(ARTIFACTS / "admin-change-ai-off.png"))

    page.goto(f"{live_server.url}/admin/conversations/apikey/")
    assert page.locator("#result_list tbody tr").count() == 2
    page.screenshot(path=str(ARTIFACTS / "admin-api-keys.png"))
