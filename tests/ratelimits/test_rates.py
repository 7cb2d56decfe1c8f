"""The limit settings: the rate syntax, invalid rates refused (ImproperlyConfigured), the
documented defaults, and no rate-limit headers with both limits off."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from conversations.http import ratelimit

pytestmark = pytest.mark.django_db


def test_rate_syntax():
    assert ratelimit.parse_rate("100/s") == ratelimit.Rate(100, 1.0)
    assert ratelimit.parse_rate("5/2s") == ratelimit.Rate(5, 2.0)
    assert ratelimit.parse_rate("6000/m") == ratelimit.Rate(6000, 60.0)
    assert ratelimit.parse_rate("10/hour") == ratelimit.Rate(10, 3600.0)
    assert ratelimit.parse_rate("off") is None
    assert ratelimit.parse_rate("30/2min") == ratelimit.Rate(30, 120.0)
    with pytest.raises(ValueError):
        ratelimit.parse_rate("100 per second")


@pytest.mark.parametrize("text", ["10/ms", "0", "0/s", "5/0s", "10/fortnight", "10/mo"])
def test_invalid_rates_are_refused_with_improperly_configured(text, settings):
    with pytest.raises(ImproperlyConfigured, match="Invalid rate"):
        ratelimit.parse_rate(text)
    settings.CONVSTORE_RATE_LIMIT = text
    with pytest.raises(ImproperlyConfigured, match="CONVSTORE_RATE_LIMIT: Invalid rate"):
        ratelimit.check_settings()


def test_defaults_are_documented_values():
    from convstore import settings as production

    # The test settings raise the limits in the environment; the code defaults are these.
    source = open(production.__file__).read()
    assert 'os.environ.get("CONVSTORE_RATE_LIMIT", "100/s")' in source
    assert 'os.environ.get("CONVSTORE_AUTH_FAILURE_LIMIT", "20/m")' in source


def test_both_limits_off_send_no_headers(limits, client, api_key):
    limits()
    response = client.get("/telnyx/v2/ai/conversations", HTTP_AUTHORIZATION=f"Bearer {api_key}")
    assert response.status_code == 200 and "x-ratelimit-limit" not in response
