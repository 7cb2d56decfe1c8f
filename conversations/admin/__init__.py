"""The staff admin, one module per seam.

- :mod:`.conversations`: the conversation list and page (AI switch, metadata rows, thread,
  audit trail);
- :mod:`.projects`: projects and API keys (a key is shown once, revoke, last use);
- :mod:`.webhooks`: webhook endpoints and events with their attempts;
- :mod:`.support`: filters, forms, search and the estimated-count paginator they share.

Importing the package registers every page.
"""

from django.contrib import admin

from . import conversations, projects, webhooks  # noqa: F401 - registers the pages

# The brand (templates in convstore/templates/admin/base_site.html use these).
admin.site.site_header = "convstore"
admin.site.site_title = "convstore admin"
admin.site.index_title = "Support desk"
# No navigation sidebar: the list's columns and the conversation page's thread need the width;
# the breadcrumbs and the index lead everywhere.
admin.site.enable_nav_sidebar = False
