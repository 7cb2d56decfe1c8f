"""Fixtures of the admin's tests: a superuser staff login and a browser page."""

import pytest

from tests.browser import chromium_page

#: The password of :func:`staff_user` (``tests.admin.test_admin_browser.log_in`` types it).
PASSWORD = "staff-pass-123456"


@pytest.fixture
def staff_user(django_user_model):
    """A superuser ``support`` who logs in with :data:`PASSWORD`."""
    return django_user_model.objects.create_user(
        "support", password=PASSWORD, is_staff=True, is_superuser=True
    )


@pytest.fixture
def browser_page():
    """A page of a fresh headless chromium (:func:`tests.browser.chromium_page`)."""
    with chromium_page(timeout_ms=15000) as page:
        yield page
