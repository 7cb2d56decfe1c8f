"""The project's code uses only the public APIs of Django, DRF, redis-py and the standard
library (http.client included): no private attribute (``obj._name``) of theirs, no
attribute known to be internal though unprefixed.

The check reads ``conversations/`` and ``convstore/`` (not migrations) with :mod:`ast`. An
attribute access ``x._name`` is ours, and allowed, when ``_name`` is defined somewhere in our
code (a function, class, module-level name or ``self._name = …``); anything else is someone
else's private attribute and fails the test unless :data:`EXCEPTIONS` lists it with a reason.
"""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("conversations", "convstore")

#: Public-looking attributes that are internals of the libraries we use.
INTERNAL_NAMES = {
    "receivers",  # django.dispatch.Signal's receiver list: its entries' layout is internal
    "send_packed_command",  # redis-py Connection: hand-packed protocol, below the client API
    "pack_command",
    "pack_commands",
    "read_response",
    "sock",  # http.client.HTTPConnection's socket
}

#: ``(file, attribute) -> reason`` for each allowed use. Keep it short; ideally empty.
EXCEPTIONS = {
    # Documented public API despite the underscore.
    ("*", "_meta"): "Django's Model _meta API (docs: ref/models/meta)",
    ("conversations/admin/projects.py", "_state"): (
        "Django documents Model._state.adding (docs: ref/models/instances, Model._state)"
    ),
    ("conversations/formats/telnyx/schema/components.py", "_map_serializer"): (
        "drf-spectacular (not Django/DRF): its documented way for an OpenApiSerializerExtension "
        "to build the default schema"
    ),
    ("conversations/webhooks/transport.py", "sock"): (
        "http.client's own HTTPSConnection.connect sets self.sock: the way a subclass connects"
    ),
}


def source_files():
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path.relative_to(ROOT).as_posix(), ast.parse(path.read_text())


def our_private_names(trees) -> set[str]:
    """Every ``_name`` our own code defines."""
    names = set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.alias):
                names.add((node.asname or node.name).split(".")[0])
            elif (
                isinstance(node, ast.Attribute)
                and isinstance(node.ctx, ast.Store)
                and isinstance(node.value, ast.Name)
                and node.value.id in ("self", "cls")
            ):
                names.add(node.attr)
    return {name for name in names if name.startswith("_")}


def foreign_internals(files=None) -> list[tuple[str, int, str]]:
    """``(path, line, attribute)`` of every private or internal attribute not ours."""
    files = list(source_files()) if files is None else files
    ours = our_private_names(tree for _, tree in files)
    found = []
    for path, tree in files:
        for node in ast.walk(tree):
            if not isinstance(node, ast.Attribute):
                continue
            name = node.attr
            private = name.startswith("_") and not name.startswith("__") and name not in ours
            if private or name in INTERNAL_NAMES:
                found.append((path, node.lineno, name))
    return found


def test_no_private_attributes_of_the_libraries_we_use():
    offending = [
        f"{path}:{line}: .{name}"
        for path, line, name in foreign_internals()
        if (path, name) not in EXCEPTIONS and ("*", name) not in EXCEPTIONS
    ]
    assert offending == [], "private/internal attributes of Django, DRF, redis-py or the stdlib"


def test_every_exception_is_still_needed():
    """An exception that no code uses any more is removed from the list."""
    used = {(path, name) for path, _, name in foreign_internals()}
    used |= {("*", name) for _, name in used}
    assert set(EXCEPTIONS) - used == set()


def test_the_check_finds_what_it_is_for():
    """The detector itself: a foreign private attribute and an internal name are reported,
    our own private names are not."""
    tree = ast.parse(
        "def _ours(): pass\n"
        "qs._defer_next_filter = True\n"
        "request._request\n"
        "signal.receivers\n"
        "module._ours()\n"
    )
    found = [name for _, _, name in foreign_internals([("example.py", tree)])]
    assert sorted(found) == ["_defer_next_filter", "_request", "receivers"]


#: Files allowed a three-argument ``getattr(settings, …)``: none.
SETTINGS_GETATTR_IN_PROGRESS: set[str] = set()


def test_every_setting_default_lives_in_settings_py():
    """``getattr(settings, "X", default)`` would put a second default beside the one in
    convstore/settings.py; code reads ``settings.X``."""
    found = [
        f"{path}:{node.lineno}"
        for path, tree in source_files()
        if path not in SETTINGS_GETATTR_IN_PROGRESS
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "getattr"
        and len(node.args) == 3
        and isinstance(node.args[0], ast.Name)
        and node.args[0].id == "settings"
    ]
    assert found == []


#: Modules allowed to cite files outside the repository: none.
CITATIONS_IN_PROGRESS: set[str] = set()


def test_citations_point_inside_the_repository():
    """Docstrings cite docs/contract.md (by section) or a public page, never a file that is not
    in this repository (the provider notes and contract the project started from)."""
    headings = {
        line.lstrip("#").strip()
        for line in (ROOT / "docs" / "contract.md").read_text().splitlines()
        if line.startswith("## ")
    }
    outside, unknown = [], []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            name = path.relative_to(ROOT).as_posix()
            text = path.read_text()
            if name not in CITATIONS_IN_PROGRESS and any(
                ref in text for ref in ("../shared/", "CONTRACT.md", "providers/")
            ):
                outside.append(name)
            for section in re.findall(r"docs/contract\.md``?\s+§([A-Z][\w ]*)", text):
                if not any(heading.startswith(section.strip()) for heading in headings):
                    unknown.append(f"{name}: §{section}")
    assert outside == [] and unknown == []
