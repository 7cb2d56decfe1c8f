"""The official SDK clients the tests build, for the suite's live server and for the
reference stack alike (``tests/conftest.py``, ``tests/stack/conftest.py``)."""

import openai


def azure_client(server_url: str, api_key: str, isolation_key: str | None = None):
    """``openai.AzureOpenAI`` on ``server_url``'s Azure format (``api-key`` header, no
    retries), sending ``x-ms-user-isolation-key`` when ``isolation_key`` is not None."""
    headers = {"x-ms-user-isolation-key": isolation_key} if isolation_key is not None else {}
    return openai.AzureOpenAI(
        base_url=f"{server_url}/azure/openai/v1/",
        api_key=api_key,
        api_version="preview",
        default_headers=headers,
        max_retries=0,
    )
