"""Dark mode keeps WCAG 2.1 AA contrast (4.5:1) for links, metadata chips and the AI switch,
measured on the rendered list in chromium with the dark colour scheme emulated."""

import pytest

from tests.admin.test_admin_browser import log_in
from tests.browser import ARTIFACTS, chromium_page

pytest.importorskip("playwright.sync_api")

#: Each element's text colour against the first opaque background behind it, as WCAG 2.1
#: defines contrast (relative luminance of sRGB colours).
CONTRAST = """
(selector) => {
  const el = document.querySelector(selector);
  const rgb = (text) => text.match(/[\\d.]+/g).map(Number);
  const luminance = ([r, g, b]) => {
    const c = [r, g, b].map((v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  };
  let node = el, bg = null;
  while (node) {
    const parts = rgb(getComputedStyle(node).backgroundColor);
    if (parts.length === 3 || parts[3] > 0) { bg = parts.slice(0, 3); break; }
    node = node.parentElement;
  }
  bg = bg || [255, 255, 255];
  const fg = rgb(getComputedStyle(el).color).slice(0, 3);
  const [hi, lo] = [luminance(fg), luminance(bg)].sort((a, b) => b - a);
  return (hi + 0.05) / (lo + 0.05);
}
"""


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("how", ["os", "toggle"])
def test_dark_mode_keeps_aa_contrast(live_server, staff_user, make_conversation, how):
    make_conversation({"assistant_id": "a-1", "customer_name": "Jane"})
    make_conversation({"ai_disabled": "true"})
    with chromium_page(timeout_ms=15000) as page:
        page.emulate_media(color_scheme="dark")
        log_in(page, live_server)
        if how == "toggle":  # the admin's own theme switch, stored in localStorage
            page.evaluate("localStorage.setItem('theme', 'dark')")
        page.goto(f"{live_server.url}/admin/conversations/conversation/")
        for selector in (
            "#result_list .field-conversation_id a",
            ".md-pair.md-reserved .md-key",
            "button.ai-toggle.turn-off",
            "button.ai-toggle.turn-on",
            ".ai-badge.ai-on",
            ".ai-badge.ai-off",
            "#changelist-filter a",
        ):
            ratio = page.evaluate(CONTRAST, selector)
            assert ratio >= 4.5, (selector, ratio)
        page.screenshot(path=str(ARTIFACTS / f"admin-dark-{how}.png"))
