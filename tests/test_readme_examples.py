"""The docs keep their word: every example in README.md and docs/ runs, as written, on ``make run``.

The test starts the server exactly as a new user does — ``make run`` (migrate, seed_demo,
runserver with the example chat responder) — on a fresh SQLite file and a free port, once for
the whole module, then runs every ```` ```sh ```` and ```` ```python ```` block of README.md and
of each ``docs/**/*.md`` page, one test per block (its id names the page and the line):

- ``sh`` blocks in ``bash -euo pipefail``; ``curl`` fails on HTTP errors (``--fail-with-body``)
  so an example that answers 4xx/5xx fails the test; the working directory holds ``.venv`` and
  ``manage.py`` as a checkout does, and ``PATH`` is left as it is (no venv on it), so a
  documented ``python manage.py`` that only works inside an activated venv fails;
- ``python`` blocks with the venv's interpreter (the SDKs are installed there);
- with ``KEY`` set to the API key ``make run`` printed, and ``127.0.0.1:8000`` replaced by the
  test's port (the only change made to a block);
- each block in a fresh working directory that must hold nothing new afterwards: an example
  that writes a file writes it outside the checkout (a ``mktemp -d`` directory), so running
  the docs by hand leaves no untracked files behind;
- each block must print something (an example that prints nothing on the demo data cannot
  show a reader that it worked).

A block may be preceded by ``<!-- readme-test: skip: REASON -->`` (not run; the reason is
required), ``<!-- readme-test: expect: "text" "text" -->`` (its output must contain each) or
``<!-- readme-test: fails: "text" … -->`` (an error shown on purpose: the block must exit
non-zero, and its output contain each text).
Blocks of one page run in the page's order against one server, whose demo data the earlier
pages' examples have added to. Running ``make run`` a second time must print the same staff
login and key, both still working, with no second demo key.
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
import pytest

from tests.ops.conftest import child_env, free_port, wait_until_up

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
DIRECTIVE = re.compile(r"<!-- readme-test: (skip|expect|fails): (.+?) -->")
RUN_LANGUAGES = {"sh", "python"}
#: Floors on how many blocks run, so a broken parser cannot pass by running nothing.
MIN_README_BLOCKS = 4
MIN_BLOCKS_RUN = 30

CURL_PREAMBLE = 'set -euo pipefail\ncurl() { command curl --fail-with-body --max-time 30 "$@"; }\n'


@dataclass
class Block:
    line: int
    language: str
    code: str
    skip: str | None = None
    expect: tuple[str, ...] = ()
    #: ``fails``: the example shows an error on purpose (curl's exit on a 4xx/5xx).
    fails: bool = False


def readme_blocks(text: str) -> list[Block]:
    """Every fenced block of ``text`` with its directive (if on the line before the fence).

    Fences may be indented (inside a list or an admonition); the block's lines lose the
    fence's indentation.
    """
    blocks: list[Block] = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        stripped = line.lstrip()
        if stripped.startswith("```"):
            indent = len(line) - len(stripped)
            end = index + 1
            while not lines[end].lstrip().startswith("```"):
                end += 1
            body = [text_line[indent:] for text_line in lines[index + 1 : end]]
            block = Block(index + 1, stripped[3:].strip(), "\n".join(body) + "\n")
            directive = DIRECTIVE.fullmatch(lines[index - 1].strip()) if index else None
            if directive and directive.group(1) == "skip":
                block.skip = directive.group(2)
            elif directive:
                block.expect = tuple(shlex.split(directive.group(2)))
                block.fails = directive.group(1) == "fails"
            blocks.append(block)
            index = end + 1
        else:
            index += 1
    return blocks


def doc_pages() -> list[Path]:
    """README.md, then every page of the docs site in path order."""
    return [README, *sorted(DOCS.rglob("*.md"))]


def runnable(path: Path) -> list[Block]:
    return [
        b for b in readme_blocks(path.read_text()) if b.language in RUN_LANGUAGES and b.skip is None
    ]


EXAMPLES = [
    pytest.param(path, block, id=f"{path.relative_to(ROOT)}:{block.line}")
    for path in doc_pages()
    for block in runnable(path)
]


@pytest.mark.parametrize("path", doc_pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_directives_are_well_formed(path):
    text = path.read_text()
    blocks = readme_blocks(text)
    assert text.count("<!-- readme-test:") == sum(
        1 for b in blocks if b.skip is not None or b.expect
    ), "a readme-test directive is not on the line right before a code fence"
    assert all(b.skip.strip() for b in blocks if b.skip is not None), "a skip without a reason"


def test_enough_examples_run():
    assert len(runnable(README)) >= MIN_README_BLOCKS
    assert len(EXAMPLES) >= MIN_BLOCKS_RUN


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


@dataclass
class Demo:
    """The server ``make run`` started (its second run), and what its runs printed."""

    port: int
    env: dict[str, str]
    first: dict[str, str]
    second: dict[str, str]
    first_login_worked: bool
    second_login_worked: bool
    demo_keys_listed: list[str]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("make-run")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
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
        username, password = first["Staff login"].split()[0], first["Staff login"].split()[2]
        first_login_worked = admin_login_works(base, username, password)
    finally:
        server.stop()

    # make run again: the same login and key, still working, and no pile of demo keys.
    server = MakeRun(tmp_path, env, port)
    try:
        keys = subprocess.run(
            [".venv/bin/python", "manage.py", "list_api_keys", "--project", "demo"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        yield Demo(
            port=port,
            env={**env, "KEY": first["API key"]},  # the quick start exports KEY
            first=first,
            second=server.printed(),
            first_login_worked=first_login_worked,
            second_login_worked=admin_login_works(base, username, password),
            demo_keys_listed=keys.stdout.strip().splitlines(),
        )
    finally:
        server.stop()


def test_make_run_prints_a_working_login_and_key_twice(demo):
    assert demo.first["Project"].startswith("demo (3 conversations)")
    assert demo.first_login_worked
    assert demo.second == demo.first
    assert demo.second_login_worked
    assert len(demo.demo_keys_listed) == 2  # the header and one key


@pytest.mark.parametrize(("path", "block"), EXAMPLES)
def test_example_runs_as_written(demo, path, block, tmp_path):
    workdir = tmp_path / "checkout"
    workdir.mkdir()
    (workdir / ".venv").symlink_to(ROOT / ".venv")
    (workdir / "manage.py").symlink_to(ROOT / "manage.py")
    code = block.code.replace("127.0.0.1:8000", f"127.0.0.1:{demo.port}")
    if block.language == "sh":
        command = ["bash", "-c", CURL_PREAMBLE + code]
    else:
        command = [sys.executable, "-c", code]
    result = subprocess.run(
        command,
        cwd=workdir,
        env=demo.env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    where = f"{path.relative_to(ROOT)} line {block.line} ({block.language})"
    assert (result.returncode != 0) == block.fails, (
        f"{where} failed:\n{block.code}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    )
    left = sorted(p.name for p in workdir.iterdir() if p.name not in (".venv", "manage.py"))
    assert not left, f"{where} left {left} in the working directory (write to a mktemp -d)"
    assert result.stdout.strip(), f"{where} printed nothing"
    for text in block.expect:
        assert text in result.stdout, f"{where}: {text!r} not in\n{result.stdout}"
