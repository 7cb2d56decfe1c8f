"""The docs pages' frame (Django's test client): the admin's brand, a header linking the four
formats' docs, the key how-to and the admin, and ``/favicon.ico``."""

import re
from http import HTTPStatus

import pytest

from conversations.formats.docs import FORMATS


def header_links(html: str) -> list[str]:
    nav = re.search(r'<nav class="cs-docs-nav".*?</nav>', html, re.S).group(0)
    return re.findall(r'href="([^"]+)"', nav)


@pytest.mark.parametrize("slug", ["", *(f.slug for f in FORMATS)])
def test_every_docs_page_has_the_brand_and_the_header(client, slug):
    response = client.get(f"/docs/{slug}/" if slug else "/docs/")
    assert response.status_code == HTTPStatus.OK
    html = response.content.decode()
    assert "/static/convstore/docs.css" in html
    assert '<span class="cs-brand-name">convstore</span>' in html
    assert header_links(html) == [
        *(f"/docs/{f.slug}/" for f in FORMATS),
        "/docs/#api-keys",
        "/admin/",
    ]
    current = re.findall(r'href="([^"]+)" aria-current="page"', html)
    assert current == ([f"/docs/{slug}/"] if slug else [])


def test_docs_index_says_how_to_get_a_key_and_the_full_base_urls(client):
    html = client.get("/docs/").content.decode()
    assert 'id="api-keys"' in html
    assert ".venv/bin/python manage.py create_api_key --project NAME" in html
    for described in FORMATS:
        assert f"<code>http://testserver{described.base_url}</code>" in html


def test_favicon_ico_leads_to_the_svg_mark(client):
    response = client.get("/favicon.ico")
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == "/static/convstore/favicon.svg"
    icon = client.get(response["Location"])
    assert icon.status_code == HTTPStatus.OK
    assert icon["Content-Type"] == "image/svg+xml"
