"""Plain-text tables for the listing commands (``list_api_keys``, ``list_webhooks``)."""


def write_table(stdout, header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    """Write ``header`` and ``rows`` to a command's ``stdout``: columns left-aligned to their
    widest cell, two spaces apart, no trailing spaces."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        stdout.write("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
