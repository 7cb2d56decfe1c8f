"""The staff admin, one module per seam.

- :mod:`.conversations`: the conversation list and page (metadata rows, thread, audit trail);
- :mod:`.ai_switch`: the AI switch's list column, view and bulk actions; :mod:`.handoff`: the
  AI badge, "until 14:05" and the "Turn AI off" choices;
- :mod:`.audit`: the metadata audit trail's pages and the conversation page's audit rows;
- :mod:`.forms`: the conversation change form with its metadata rows, and the API key form;
- :mod:`.search`: the search box and the list filters, index-friendly;
- :mod:`.paging`: the estimated-count paginator and primary keys in chunks for bulk actions;
- :mod:`.item_summary`: one line per stored item, for the thread;
- :mod:`.projects`: projects and API keys (a key is shown once, revoke, last use);
- :mod:`.webhooks`: webhook endpoints and events with their attempts;
- :mod:`.login`: the login page's lockout notice.

Importing the package registers every page.
"""

from django.contrib import admin

from conversations.admin import audit, conversations, projects, webhooks  # noqa: F401 - registers the pages
from conversations.admin.login import lockout_notice

# The brand (templates in convstore/templates/admin/base_site.html use these).
admin.site.site_header = "convstore"
admin.site.site_title = "convstore admin"
admin.site.index_title = "Support desk"
# No navigation sidebar: the list's columns and the conversation page's thread need the width;
# the breadcrumbs and the index lead everywhere.
admin.site.enable_nav_sidebar = False


_app_list = admin.site.get_app_list


def _conversations_first(request, app_label=None):
    """The index and menus list convstore's sections first; Axes (login lockouts) below."""
    return sorted(_app_list(request, app_label), key=lambda app: app["app_label"] == "axes")


_login = admin.site.login


def _login_with_lockout_notice(request, extra_context=None):
    """The login page, warning how many failed attempts are left before the lockout."""
    response = _login(request, extra_context)
    if getattr(response, "context_data", None) is not None and not response.is_rendered:
        response.context_data["lockout_notice"] = lockout_notice(request)
    return response


admin.site.get_app_list = _conversations_first
admin.site.login = _login_with_lockout_notice
