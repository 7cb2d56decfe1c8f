"""The project's own files: ``manage.py``'s hint outside the virtualenv, and ``pyproject.toml``."""

import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_manage_py_without_django_says_to_use_the_virtualenv():
    """Python without site-packages (``-S``) cannot import Django, like a system Python
    outside ``.venv``: the error is Django's own hint, naming convstore's virtualenv."""
    result = subprocess.run(
        [sys.executable, "-S", str(ROOT / "manage.py"), "help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("ImportError: Couldn't import Django.")
    assert "forget to activate a virtual environment?" in last_line
    assert ".venv/bin/python manage.py" in last_line


def test_each_dependency_is_listed_once():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for requirements in [project["dependencies"], *project["optional-dependencies"].values()]:
        names = [re.split(r"[<>=!~\[ ;]", r, maxsplit=1)[0].lower() for r in requirements]
        assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)
