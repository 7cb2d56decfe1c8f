"""The docs pages in a real browser (Playwright + Debian's chromium): each format's Swagger UI
renders every operation of its document, and nothing is loaded from another origin."""

import json

import pytest

from conversations.formats.docs import FORMATS
from tests.browser import ARTIFACTS, chromium_page

pytest.importorskip("playwright.sync_api")


@pytest.fixture
def browser_page():
    with chromium_page(timeout_ms=20000) as page:
        yield page


@pytest.mark.django_db(transaction=True)
def test_every_docs_page_renders_its_operations_with_no_external_request(
    live_server, browser_page, client
):
    page = browser_page
    requested = []
    page.on("request", lambda request: requested.append(request.url))

    page.goto(f"{live_server.url}/docs/")
    links = page.locator("#formats a[href^='/docs/']")
    assert links.count() == len(FORMATS)
    page.screenshot(path=str(ARTIFACTS / "docs-index.png"), full_page=True)

    for described in FORMATS:
        document = json.loads(client.get("/" + described.schema_path).content)
        operation_ids = {
            operation["operationId"]
            for item in document["paths"].values()
            for operation in item.values()
        }
        page.goto(f"{live_server.url}/docs/{described.slug}/")
        page.wait_for_selector(".swagger-ui .opblock")
        assert (
            page.locator(".swagger-ui .info .title")
            .inner_text()
            .startswith(document["info"]["title"])
        )
        assert page.locator(".swagger-ui .opblock").count() == len(operation_ids)
        shown_ids = set(
            page.locator(".swagger-ui .opblock .opblock-summary-operation-id").all_inner_texts()
        )
        assert shown_ids == operation_ids
        assert page.locator(".swagger-ui .errors-wrapper").count() == 0
        assert page.locator("button.authorize").count() == 1  # the Bearer (and api-key) schemes
        page.screenshot(path=str(ARTIFACTS / f"docs-{described.slug}.png"), full_page=False)

    assert requested, "the browser made no request at all"
    foreign = [url for url in requested if not url.startswith((live_server.url, "data:", "blob:"))]
    assert not foreign, foreign
    assert any("/static/drf_spectacular_sidecar/swagger-ui-dist/" in url for url in requested)
