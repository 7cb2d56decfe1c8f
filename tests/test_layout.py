"""The tree keeps the shape docs/architecture.md draws: small modules, and every package of
the app placed in the import-layer contracts (pyproject.toml, checked by ``lint-imports`` in
``make test``) and described on the architecture page."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Lines a Python module may have (docs/architecture.md): past it, split along a seam.
MAX_MODULE_LINES = 400
CHECKED = ("conversations", "convstore", "benchmarks", "tools", "tests")


def _modules():
    for top in CHECKED:
        for path in sorted((ROOT / top).rglob("*.py")):
            parts = path.relative_to(ROOT).parts
            if "migrations" in parts or "node_modules" in parts:
                continue
            yield path


def test_no_module_is_over_the_line_limit():
    too_long = {
        str(path.relative_to(ROOT)): count
        for path in _modules()
        if (count := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert too_long == {}


def _app_packages() -> set[str]:
    app = ROOT / "conversations"
    return {
        path.parent.name
        for path in app.glob("*/__init__.py")
        if path.parent.name not in ("migrations",)
    }


def _layers() -> list[list[str]]:
    """The layers contract's layers, top down, each a list of sibling module names."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    (layers,) = [c["layers"] for c in contracts if c["type"] == "layers"]
    return [[name.strip() for name in layer.split("|")] for layer in layers]


def test_every_app_package_has_a_place_in_the_layers():
    placed = {name.removeprefix("conversations.") for layer in _layers() for name in layer}
    assert _app_packages() - placed == set()


def test_every_app_package_is_described_on_the_architecture_page():
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    assert {name for name in _app_packages() if f"| `{name}/` |" not in page} == set()


def test_the_map_draws_the_contract_s_layers_top_down_with_siblings_side_by_side():
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    start = page.index("```text")
    drawn = page[start : page.index("```", start + 7)].splitlines()

    def row(package: str) -> int:
        return next(number for number, line in enumerate(drawn) if f"{package}/" in line)

    rows = [
        {row(name.removeprefix("conversations.")) for name in layer}
        for layer in _layers()[2:]  # convstore and apps.py head the drawing in prose
    ]
    assert all(len(siblings) == 1 for siblings in rows)
    lines = [min(siblings) for siblings in rows]
    assert lines == sorted(set(lines))  # each layer drawn below the one above it
