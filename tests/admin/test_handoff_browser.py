"""The timed handoff end to end in a real browser (Playwright + Debian's chromium).

Staff switch the AI off for 15 minutes in the admin; the Telnyx chat refuses; time moves
forward through the clock seam (``conversations.domain.clock.advance``, shared by the test and the
``live_server`` thread; no sleeping); the admin shows the AI on, the Telnyx chat answers, and
the resume is written down once: an audit row by the system actor and a
``conversation.ai_resumed`` webhook event. Screenshots at 1400×900 and 820×900 go to
``test-artifacts/``.
"""

from datetime import timedelta

import pytest
import telnyx

from conversations.domain import clock
from conversations.models import MetadataChange, WebhookEndpoint, WebhookEvent
from tests.admin.test_admin_browser import log_in, seed_support_queue
from tests.browser import ARTIFACTS

pytest.importorskip("playwright.sync_api")

LIST = "/admin/conversations/conversation/"


@pytest.fixture(autouse=True)
def echo_responder(settings, real_time):
    settings.CONVSTORE_CHAT_RESPONDER = "conversations.formats.telnyx.responders.echo"


def both_widths(page, name):
    """Screenshots at 1400×900 and 820×900; at 820 px every column of the list still shows."""
    page.set_viewport_size({"width": 1400, "height": 900})
    page.screenshot(path=str(ARTIFACTS / f"{name}-1400.png"))
    page.set_viewport_size({"width": 820, "height": 900})
    page.screenshot(path=str(ARTIFACTS / f"{name}-820.png"))
    page.set_viewport_size({"width": 1400, "height": 900})


@pytest.mark.django_db(transaction=True)
def test_switch_off_for_15_minutes_then_the_ai_answers_again(
    live_server, browser_page, staff_user, make_conversation, project, api_key
):
    page = browser_page
    WebhookEndpoint.objects.create(project=project, url="https://hooks.example.com/support")
    jane = seed_support_queue(make_conversation)
    chat = telnyx.Telnyx(api_key=api_key, base_url=f"{live_server.url}/telnyx/v2", max_retries=0)
    log_in(page, live_server)

    page.goto(f"{live_server.url}{LIST}")
    row = page.locator(
        "#result_list tbody tr", has=page.locator(f"[data-conversation='{jane.pk.hex}']")
    )
    row.locator(f"select[name='ai_for_{jane.pk.hex}']").select_option("15m")
    row.locator("button.ai-toggle.turn-off").click()
    page.wait_for_selector("ul.messagelist")
    assert "AI turned off for conv_" in page.inner_text("ul.messagelist")
    row = page.locator(
        "#result_list tbody tr", has=page.locator(f"[data-conversation='{jane.pk.hex}']")
    )
    assert row.locator(".ai-badge").inner_text().strip() == "AI off"
    assert row.locator(".ai-until").inner_text().startswith("until ")
    assert "by support" in row.locator(".ai-until").get_attribute("title")
    both_widths(page, "handoff-list-ai-off")

    page.goto(f"{live_server.url}{LIST}?ai=soon")
    assert page.locator("#result_list tbody tr").count() == 1
    page.goto(f"{live_server.url}{LIST}{jane.pk}/change/")
    assert "taken over by support" in page.inner_text("#handoff")
    both_widths(page, "handoff-change-ai-off")

    with pytest.raises(telnyx.BadRequestError):
        chat.ai.assistants.chat("a", content="anyone?", conversation_id=str(jane.pk))

    clock.advance(timedelta(minutes=16))

    page.goto(f"{live_server.url}{LIST}")
    row = page.locator(
        "#result_list tbody tr", has=page.locator(f"[data-conversation='{jane.pk.hex}']")
    )
    assert row.locator(".ai-badge").inner_text().strip() == "AI on"
    both_widths(page, "handoff-list-ai-back-on")

    reply = chat.ai.assistants.chat("a", content="anyone?", conversation_id=str(jane.pk))
    assert reply.content == "You said: anyone?"
    (resume,) = MetadataChange.objects.filter(conversation=jane, action="ai_resume")
    assert (resume.actor_type, resume.actor) == ("system", "system")
    assert resume.before["ai_disabled"] == "true" and resume.after["ai_disabled"] == "false"
    (event,) = WebhookEvent.objects.filter(conversation=jane, event_type="conversation.ai_resumed")
    assert event.payload["data"]["action"] == "ai_resume"

    page.goto(f"{live_server.url}{LIST}{jane.pk}/change/")
    assert page.locator("#conversation-head .ai-badge.ai-on").is_visible()
    assert "AI resumed" in page.inner_text("#audit")
    both_widths(page, "handoff-change-resumed")
