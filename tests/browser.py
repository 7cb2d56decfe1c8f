"""A real browser for the tests: Playwright driving Debian's chromium (``make test`` installs
it): :func:`chromium_page`, which the browser tests' ``browser_page`` fixtures wrap.
Screenshots go to :data:`ARTIFACTS` (``test-artifacts/``, gitignored)."""

import os
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.db import connections

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@contextmanager
def chromium_page(*, timeout_ms: int = 20_000):
    """A 1400×900 page of a fresh headless chromium; fails (not skips) when chromium is
    missing, skips only when Playwright itself is not installed."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (make test does this)")
    # Playwright's sync API runs an event loop in this thread; Django's ORM calls made here by
    # the test itself are still synchronous and safe.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.set_default_timeout(timeout_ms)
        try:
            yield page
        finally:
            browser.close()
            # ORM calls made while Playwright runs happen in a context with its own
            # connection; close it so the test database can be dropped.
            connections.close_all()
