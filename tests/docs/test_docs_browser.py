"""The docs pages in a real browser (Playwright + Debian's chromium): each format's Swagger UI
renders every operation of its document, and nothing is loaded from another origin."""

import json
import os
from pathlib import Path

import pytest
from django.db import connections

from conversations.formats.docs import FORMATS

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

sync_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture
def browser_page():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (make test does this)")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.set_default_timeout(20_000)
        yield page
        browser.close()
        connections.close_all()


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
