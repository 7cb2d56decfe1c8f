"""The quick start keeps its word: the README's examples run, as written, against ``make run``.

The test starts the server exactly as a new user does — ``make run`` (migrate, seed_demo,
runserver with the example chat responder) — on a fresh SQLite file and a free port, then runs
every ```` ```sh ```` and ```` ```python ```` block of README.md in order:

- ``sh`` blocks in ``bash -euo pipefail``; ``curl`` fails on HTTP errors (``--fail-with-body``)
  so an example that answers 4xx/5xx fails the test; the working directory holds ``.venv`` and
  ``manage.py`` as a checkout does, and ``PATH`` is left as it is (no venv on it), so a
  documented ``python manage.py`` that only works inside an activated venv fails;
- ``python`` blocks with the venv's interpreter (the SDKs are installed there);
- with ``KEY`` set to the API key ``make run`` printed, and ``127.0.0.1:8000`` replaced by the
  test's port (the only change made to a block).

A block may be preceded by ``<!-- readme-test: skip: REASON -->`` (not run; the reason is
required) or ``<!-- readme-test: expect: "text" "text" -->`` (its output must contain each).
Running ``make run`` a second time must print the same staff login and key, both still working,
with no second demo key.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.ops.conftest import child_env, free_port, wait_until_up

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DIRECTIVE = re.compile(r"<!-- readme-test: (skip|expect): (.+?) -->")
RUN_LANGUAGES = {"sh", "python"}
#: A floor on how many blocks run, so a broken parser cannot pass by running nothing.
MIN_BLOCKS_RUN = 9

CURL_PREAMBLE = 'set -euo pipefail\ncurl() { command curl --fail-with-body --max-time 30 "$@"; }\n'


@dataclass
class Block:
    line: int
    language: str
    code: str
    skip: str | None = None
    expect: tuple[str, ...] = ()


def readme_blocks(text: str) -> list[Block]:
    """Every fenced block of ``text`` with its directive (if on the line before the fence)."""
    blocks: list[Block] = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.startswith("```"):
            end = index + 1
            while not lines[end].startswith("```"):
                end += 1
            block = Block(index + 1, line[3:].strip(), "\n".join(lines[index + 1 : end]) + "\n")
            directive = DIRECTIVE.fullmatch(lines[index - 1].strip()) if index else None
            if directive and directive.group(1) == "skip":
                block.skip = directive.group(2)
            elif directive:
                block.expect = tuple(shlex.split(directive.group(2)))
            blocks.append(block)
            index = end + 1
        else:
            index += 1
    return blocks


def test_directives_are_well_formed():
    text = README.read_text()
    blocks = readme_blocks(text)
    assert text.count("<!-- readme-test:") == sum(
        1 for b in blocks if b.skip is not None or b.expect
    ), "a readme-test directive is not on the line right before a code fence"
    runnable = [b for b in blocks if b.language in RUN_LANGUAGES and b.skip is None]
    assert len(runnable) >= MIN_BLOCKS_RUN


class MakeRun:
    """``make run`` in a child process group, its output in files."""

    def __init__(self, workdir: Path, env: dict[str, str], port: int):
        self.out_path = workdir / f"make-run-{len(list(workdir.glob('make-run-*')))}.log"
        self.out = self.out_path.open("w")
        self.process = subprocess.Popen(
            ["make", "--no-print-directory", "run", "HOST=127.0.0.1", f"PORT={port}"],
            cwd=ROOT,
            env=env,
            stdout=self.out,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        wait_until_up(f"http://127.0.0.1:{port}/healthz", self.process, timeout=300)

    def printed(self) -> dict[str, str]:
        """``{"Project": …, "Staff login": …, "API key": …}`` from seed_demo's lines."""
        found = {}
        for line in self.out_path.read_text().splitlines():
            name, sep, value = line.partition(":")
            if sep and name in ("Project", "Staff login", "API key"):
                found[name] = value.strip()
        return found

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.out.close()


def admin_login_works(base: str, username: str, password: str) -> bool:
    with httpx.Client(base_url=base, follow_redirects=False) as http:
        page = http.get("/admin/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        answer = http.post(
            "/admin/login/?next=/admin/",
            data={"csrfmiddlewaretoken": token, "username": username, "password": password},
            headers={"Referer": base + "/admin/login/"},
        )
        return answer.status_code == 302 and answer.headers["location"] == "/admin/"


def test_readme_examples_run_against_make_run(tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    workdir = tmp_path / "checkout"
    workdir.mkdir()
    (workdir / ".venv").symlink_to(ROOT / ".venv")
    (workdir / "manage.py").symlink_to(ROOT / "manage.py")
    env = child_env(
        DATABASE_URL=f"sqlite:///{tmp_path / 'quickstart.sqlite3'}",
        DEMO_CREDENTIALS_FILE=str(tmp_path / "demo-credentials.json"),
    )
    # A new user's shell: no test settings' SECRET_KEY, no DEBUG (make run sets it itself).
    for name in ("CONVSTORE_CHAT_RESPONDER", "DEBUG", "KEY", "SECRET_KEY"):
        env.pop(name, None)

    server = MakeRun(tmp_path, env, port)
    try:
        first = server.printed()
        assert first["Project"].startswith("demo (3 conversations)")
        username, password = first["Staff login"].split()[0], first["Staff login"].split()[2]
        assert admin_login_works(base, username, password)
    finally:
        server.stop()

    # make run again: the same login and key, still working, and no pile of demo keys.
    server = MakeRun(tmp_path, env, port)
    try:
        assert server.printed() == first
        assert admin_login_works(base, username, password)
        keys = subprocess.run(
            [".venv/bin/python", "manage.py", "list_api_keys", "--project", "demo"],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        assert len(keys.stdout.strip().splitlines()) == 2  # the header and one key

        block_env = {**env, "KEY": first["API key"]}  # the quick start exports KEY
        ran = 0
        for block in readme_blocks(README.read_text()):
            if block.language not in RUN_LANGUAGES or block.skip is not None:
                continue
            code = block.code.replace("127.0.0.1:8000", f"127.0.0.1:{port}")
            if block.language == "sh":
                command = ["bash", "-c", CURL_PREAMBLE + code]
            else:
                command = [sys.executable, "-c", code]
            result = subprocess.run(
                command,
                cwd=workdir,
                env=block_env,
                capture_output=True,
                text=True,
                timeout=180,
                check=False,
            )
            where = f"README.md line {block.line} ({block.language})"
            assert result.returncode == 0, (
                f"{where} failed:\n{block.code}\n--- stdout\n{result.stdout}\n"
                f"--- stderr\n{result.stderr}"
            )
            for text in block.expect:
                assert text in result.stdout, f"{where}: {text!r} not in\n{result.stdout}"
            ran += 1
        assert ran >= MIN_BLOCKS_RUN
    finally:
        server.stop()
