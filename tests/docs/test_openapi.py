"""The OpenAPI documents: one per format, valid OpenAPI 3.1 with no generator warnings, each
describing exactly its format's routes, errors and headers — and a live server that answers
as they say (schemathesis, the official CLI, against every operation of every format)."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.management import call_command
from drf_spectacular.validation import validate_schema

from conversations.formats.docs import FORMATS
from conversations.formats.openai.views import ConversationViewSet

DOCS = {f.slug: f for f in FORMATS}
ROUTES = {
    "openai": {
        ("post", "/openai/v1/conversations"),
        ("get", "/openai/v1/conversations/{conversation_id}"),
        ("post", "/openai/v1/conversations/{conversation_id}"),
        ("delete", "/openai/v1/conversations/{conversation_id}"),
        ("get", "/openai/v1/conversations/{conversation_id}/items"),
        ("post", "/openai/v1/conversations/{conversation_id}/items"),
        ("get", "/openai/v1/conversations/{conversation_id}/items/{item_id}"),
        ("delete", "/openai/v1/conversations/{conversation_id}/items/{item_id}"),
    },
    "telnyx": {
        ("get", "/telnyx/v2/ai/conversations"),
        ("post", "/telnyx/v2/ai/conversations"),
        ("get", "/telnyx/v2/ai/conversations/{conversation_id}"),
        ("put", "/telnyx/v2/ai/conversations/{conversation_id}"),
        ("delete", "/telnyx/v2/ai/conversations/{conversation_id}"),
        ("post", "/telnyx/v2/ai/conversations/{conversation_id}/message"),
        ("get", "/telnyx/v2/ai/conversations/{conversation_id}/messages"),
        ("post", "/telnyx/v2/ai/assistants/{assistant_id}/chat"),
    },
    "agentphone": {
        ("get", "/agentphone/v1/conversations"),
        ("get", "/agentphone/v1/conversations/{conversation_id}"),
        ("patch", "/agentphone/v1/conversations/{conversation_id}"),
        ("get", "/agentphone/v1/conversations/{conversation_id}/messages"),
    },
}
if hasattr(ConversationViewSet, "list"):  # conversation listing, where it is served
    ROUTES["openai"].add(("get", "/openai/v1/conversations"))
ROUTES["azure"] = {(m, p.replace("/openai/v1/", "/azure/openai/v1/")) for m, p in ROUTES["openai"]}
ERROR_COMPONENT = {"openai": "OpenAIError", "azure": "OpenAIError", "telnyx": "TelnyxErrors"}
ERROR_COMPONENT["agentphone"] = "HTTPError"


def fetch(client, slug) -> dict:
    response = client.get("/" + DOCS[slug].schema_path)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi+json")
    return json.loads(response.content)


def operations(document):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield method, path, operation


@pytest.mark.parametrize("slug", DOCS)
def test_spectacular_validates_each_document_without_warnings(slug, tmp_path):
    """What ``make test`` runs: ``spectacular --validate --fail-on-warn`` per format."""
    out = tmp_path / f"{slug}.json"
    call_command(
        "spectacular",
        "--validate",
        "--fail-on-warn",
        "--format=openapi-json",
        f"--generator-class={DOCS[slug].generator.__module__}.{DOCS[slug].generator.__name__}",
        f"--file={out}",
    )
    assert json.loads(out.read_text())["openapi"] == "3.1.0"


@pytest.mark.parametrize("slug", DOCS)
def test_each_document_describes_exactly_its_formats_routes(client, slug):
    document = fetch(client, slug)
    validate_schema(document)
    assert document["openapi"] == "3.1.0"
    assert {(m, p) for m, p, _ in operations(document)} == ROUTES[slug]
    assert not any("openapi.json" in p or "docs" in p for p in document["paths"])


@pytest.mark.parametrize("slug", DOCS)
def test_every_operation_documents_auth_headers_and_errors_in_its_formats_shape(client, slug):
    document = fetch(client, slug)
    error_ref = f"#/components/schemas/{ERROR_COMPONENT[slug]}"
    for method, path, operation in operations(document):
        where = f"{method.upper()} {path}"
        names = {p["name"] for p in operation["parameters"]}
        assert "x-ms-user-isolation-key" in names, where
        responses = operation["responses"]
        for status in ("401", "429", "503"):
            body = responses[status]["content"]["application/json"]["schema"]
            assert body == {"$ref": error_ref}, where
        for status in ("429", "503"):
            assert "Retry-After" in responses[status]["headers"], where
        assert responses["200"]["headers"]["x-request-id"]["required"] is True, where
        if slug == "azure":
            assert operation["security"] == [{"bearer": []}, {"apiKey": []}], where
            assert {"api-version", "x-ms-user-isolation-key"} <= names
            assert "apim-request-id" in responses["200"]["headers"]
        else:
            assert operation["security"] == [{"bearer": []}], where
            assert "api-version" not in names, where
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearer"] == {**schemes["bearer"], "type": "http", "scheme": "bearer"}
    if slug == "azure":
        assert schemes["apiKey"]["in"] == "header" and schemes["apiKey"]["name"] == "api-key"


def test_conditional_and_idempotent_headers_follow_the_contract(client):
    """ETag/If-Match (412)/If-None-Match (304) on single-conversation routes, Idempotency-Key
    (409/422, ``Idempotent-Replayed``) on the create POSTs, in every format."""
    single = {
        "openai": "/openai/v1/conversations/{conversation_id}",
        "azure": "/azure/openai/v1/conversations/{conversation_id}",
        "telnyx": "/telnyx/v2/ai/conversations/{conversation_id}",
        "agentphone": "/agentphone/v1/conversations/{conversation_id}",
    }
    creates = {
        "openai": {"/openai/v1/conversations", "/openai/v1/conversations/{conversation_id}/items"},
        "telnyx": {
            "/telnyx/v2/ai/conversations",
            "/telnyx/v2/ai/conversations/{conversation_id}/message",
            "/telnyx/v2/ai/assistants/{assistant_id}/chat",
        },
        "agentphone": set(),
    }
    creates["azure"] = {p.replace("/openai/v1/", "/azure/openai/v1/") for p in creates["openai"]}
    for slug in DOCS:
        document = fetch(client, slug)
        for method, path, operation in operations(document):
            names = {p["name"] for p in operation["parameters"]}
            responses = operation["responses"]
            if path == single[slug] and method == "get":
                assert "If-None-Match" in names and "304" in responses
                assert "content" not in responses["304"]
                assert "ETag" in responses["200"]["headers"]
            elif path == single[slug]:
                assert "If-Match" in names and "412" in responses, (slug, method)
            else:
                assert "If-Match" not in names and "412" not in responses, (slug, method, path)
            if method == "post" and path in creates[slug]:
                assert "Idempotency-Key" in names, path
                assert {"400", "409", "422"} <= set(responses)
                assert "Idempotent-Replayed" in responses["200"]["headers"]
            else:
                assert "Idempotency-Key" not in names, (slug, method, path)


def test_error_bodies_are_each_formats_own(client):
    openai = fetch(client, "openai")["components"]["schemas"]
    assert openai["OpenAIError"]["properties"]["error"]["required"] == [
        "message",
        "type",
        "param",
        "code",
    ]
    telnyx = fetch(client, "telnyx")
    update = telnyx["paths"]["/telnyx/v2/ai/conversations/{conversation_id}"]["put"]
    body = update["responses"]["422"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/HTTPValidationError"}
    chat = telnyx["paths"]["/telnyx/v2/ai/assistants/{assistant_id}/chat"]["post"]
    assert {"400", "501", "502"} <= set(chat["responses"])
    agentphone = fetch(client, "agentphone")
    patch = agentphone["paths"]["/agentphone/v1/conversations/{conversation_id}"]["patch"]
    body = patch["responses"]["404"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/HTTPError"}


def test_docs_index_lists_every_format(client):
    response = client.get("/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    for described in FORMATS:
        assert f'href="/docs/{described.slug}/"' in html
        assert f'href="/{described.schema_path}"' in html
        page = client.get(f"/docs/{described.slug}/")
        assert page.status_code == 200
        body = page.content.decode()
        assert f"/{described.schema_path}" in body
        assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in body
        assert "https://" not in body and "http://" not in body


# -- schemathesis against a live server ---------------------------------------------------------

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
CHECKS = (
    "not_a_server_error,status_code_conformance,content_type_conformance,"
    "response_headers_conformance,response_schema_conformance"
)
# Examples per operation and phase; raise it for a deeper local run.
MAX_EXAMPLES = os.environ.get("CONVSTORE_SCHEMATHESIS_EXAMPLES", "5")


CONFIG = Path(__file__).with_name("schemathesis.toml")
# Azure serves the OpenAI views (only auth and headers differ): fuzzing is enough there.
PHASES = {"openai": "coverage,fuzzing", "azure": "fuzzing", "telnyx": "coverage,fuzzing"}
PHASES["agentphone"] = "coverage,fuzzing"


def schemathesis_command(url: str, header: str, phases: str) -> list[str]:
    """The CLI run the README tells users to run, bounded for CI."""
    return [
        str(SCHEMATHESIS),
        "--config-file",
        str(CONFIG),
        "run",
        url,
        "--header",
        header,
        "--checks",
        CHECKS,
        "--phases",
        phases,
        "--max-examples",
        MAX_EXAMPLES,
        "--seed",
        "20251125",
        "--workers",
        "1",
        "--request-timeout",
        "30",
        "--generation-database",
        "none",
        # Hypothesis' data-generation speed checks say nothing about the API and fail on a
        # busy 2-core CI machine.
        "--suppress-health-check",
        "too_slow,filter_too_much",
        "--no-color",
    ]


@pytest.mark.django_db(transaction=True)
def test_schemathesis_finds_no_server_error_and_every_answer_matches_its_document(
    live_server, api_key, settings, tmp_path
):
    """Every operation of every format, fed generated valid and invalid requests: no 5xx,
    every status documented, every body and header as documented. The four runs go in
    parallel against one live server."""
    settings.CONVSTORE_CHAT_RESPONDER = "conversations.formats.telnyx.responders.echo"
    headers = {slug: f"Authorization: Bearer {api_key}" for slug in DOCS}
    headers["azure"] = f"api-key: {api_key}"
    started = time.monotonic()
    runs = {
        slug: subprocess.Popen(
            schemathesis_command(
                f"{live_server.url}/{DOCS[slug].schema_path}", headers[slug], PHASES[slug]
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "NO_COLOR": "1", "SCHEMATHESIS_HOOKS": ""},
            cwd=tmp_path,  # its caches and crash files (.schemathesis/) stay out of the repo
        )
        for slug in DOCS
    }
    outputs, took = {}, {}
    for slug, run in runs.items():
        try:
            out = run.communicate(timeout=600)[0]
            outputs[slug] = (run.returncode, out)
            took[slug] = time.monotonic() - started
        finally:
            run.kill()
    elapsed = time.monotonic() - started
    failed = {slug: out for slug, (code, out) in outputs.items() if code != 0}
    report = "\n\n".join(f"===== {slug} =====\n{out[-6000:]}" for slug, out in failed.items())
    assert not failed, report
    for slug, (_, out) in outputs.items():
        assert "passed" in out and "generated" in out, out[-2000:]
        cases = next(line for line in out.splitlines() if " generated, " in line).strip()
        print(f"schemathesis {slug}: {cases} (done after {took[slug]:.0f} s)")
    print(f"schemathesis: 4 formats in {elapsed:.0f} s")


def test_documents_generated_at_once_in_threads_keep_their_own_components():
    """Generation patches drf-spectacular's process-wide settings; concurrent requests for
    different documents (a threaded server) must not mix them."""
    from concurrent.futures import ThreadPoolExecutor

    def generate(described):
        return described.slug, described.generator().get_schema(request=None, public=True)

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(generate, [*FORMATS, *FORMATS, *FORMATS]))
    for slug, document in results:
        schemas = document["components"]["schemas"]
        assert ERROR_COMPONENT[slug] in schemas, slug
        assert document["info"]["title"] == DOCS[slug].generator.settings["TITLE"]
