"""Fixtures of the item tests: an ``openai`` client on each OpenAI-style base URL."""

import openai
import pytest


@pytest.fixture(params=["openai", "azure-v1", "azure-root"])
def any_openai_client(request, live_server, api_key):
    """The ``openai`` SDK on ``/openai/v1``, ``/azure/openai/v1`` and ``azure_endpoint=/azure``."""
    if request.param == "openai":
        return openai.OpenAI(
            base_url=f"{live_server.url}/openai/v1", api_key=api_key, max_retries=0
        )
    if request.param == "azure-v1":
        return openai.AzureOpenAI(
            base_url=f"{live_server.url}/azure/openai/v1/",
            api_key=api_key,
            api_version="preview",
            max_retries=0,
        )
    return openai.AzureOpenAI(
        azure_endpoint=f"{live_server.url}/azure",
        api_key=api_key,
        api_version="2025-04-01-preview",
        max_retries=0,
    )
