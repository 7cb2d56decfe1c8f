"""The staff admin, one module per seam.

- :mod:`.conversations`: the conversation list and page (AI switch, metadata rows, thread,
  audit trail);
- :mod:`.projects`: projects and API keys (a key is shown once, revoke, last use);
- :mod:`.webhooks`: webhook endpoints and events with their attempts;
- :mod:`.support`: filters, forms, search and the estimated-count paginator they share.

Importing the package registers every page.
"""

from . import conversations, projects, webhooks  # noqa: F401 - registers the pages
