"""Admin controls that need a browser: the metadata "+ Add row" and the new key's Copy box."""

import pytest

from conversations.models import ApiKey
from tests.admin.test_admin_browser import log_in
from tests.admin.test_handoff_browser import both_widths

pytest.importorskip("playwright.sync_api")


@pytest.mark.django_db(transaction=True)
def test_add_row_then_save_and_a_new_key_in_its_box(
    live_server, browser_page, staff_user, make_conversation, project
):
    page = browser_page
    conversation = make_conversation({"a": "1"})
    log_in(page, live_server)
    page.goto(f"{live_server.url}/admin/conversations/conversation/{conversation.pk}/change/")
    rows = page.locator("#metadata-rows > table > tbody > tr")
    before = rows.count()
    page.click("#add-metadata-row")
    assert rows.count() == before + 1
    page.locator(f"input[name='meta-{before}-key']").fill("added")
    page.locator(f"input[name='meta-{before}-value']").fill("by the button")
    page.click("input[name='_save']")
    page.wait_for_selector("ul.messagelist")
    conversation.refresh_from_db()
    assert conversation.metadata == {"a": "1", "added": "by the button"}

    page.goto(f"{live_server.url}/admin/conversations/apikey/add/")
    assert "shown only once" in page.inner_text("#content")
    page.select_option("#id_project", str(project.pk))
    page.fill("#id_name", "support bot")
    page.click("input[name='_save']")
    box = page.locator("code#new-api-key")
    assert box.inner_text().startswith("cs_") and len(box.inner_text()) == 43
    assert "monospace" in box.evaluate("e => getComputedStyle(e).fontFamily").lower() or (
        "mono" in box.evaluate("e => getComputedStyle(e).fontFamily").lower()
    )
    assert page.locator("button[data-copy='new-api-key']").is_visible()
    assert ApiKey.objects.filter(name="support bot").exists()
    both_widths(page, "admin-new-api-key")


@pytest.mark.django_db(transaction=True)
def test_webhook_events_list_fits_1400_pixels(
    live_server, browser_page, staff_user, make_conversation, project
):
    from conversations.models import WebhookEndpoint

    page = browser_page
    WebhookEndpoint.objects.create(
        project=project,
        url="https://hooks.example.com/a/rather/long/path/for/the/support/team/receiver?x=1",
    )
    for n in range(3):
        make_conversation({"n": str(n)})
    log_in(page, live_server)
    page.goto(f"{live_server.url}/admin/conversations/webhookevent/")
    header = page.locator("#result_list th.column-next_attempt_at").bounding_box()
    table = page.locator("#result_list").bounding_box()
    results = page.locator("#changelist .results").bounding_box()
    assert header["x"] + header["width"] <= 1400
    assert table["x"] + table["width"] <= results["x"] + results["width"] + 1
    both_widths(page, "admin-webhook-events")
