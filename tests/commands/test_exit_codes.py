"""The commands agree: an unknown project is a one-line error and exit 1 in every command that
takes ``--project``; bad usage exits 2 (argparse). Run as an operator would, from the venv."""

import subprocess
import sys
from pathlib import Path

import pytest

from tests.ops.conftest import child_env, database_url_for_child

MANAGE = Path(__file__).resolve().parents[2] / "manage.py"

UNKNOWN_PROJECT = [
    ["list_api_keys", "--project", "unknown"],
    ["export_conversations", "--project", "unknown"],
    ["purge", "--days", "90", "--project", "unknown", "--dry-run"],
    ["create_webhook", "--project", "unknown", "--url", "https://example.com/hooks"],
]


def manage(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(MANAGE), *args],
        capture_output=True,
        text=True,
        check=False,
        env=child_env(DATABASE_URL=database_url_for_child()),
        timeout=120,
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("args", UNKNOWN_PROJECT, ids=lambda args: args[0])
def test_unknown_project_is_a_clear_error_with_exit_1(args):
    result = manage(*args)
    assert result.returncode == 1, result
    assert result.stderr.strip() == "CommandError: No project named 'unknown'."
    assert result.stdout == ""


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("command", ["list_api_keys", "export_conversations", "purge"])
def test_bad_usage_exits_2(command):
    result = manage(command, "--no-such-option")
    assert result.returncode == 2
    assert "unrecognized arguments" in result.stderr or "required" in result.stderr
