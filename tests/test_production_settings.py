"""Production settings: no start without SECRET_KEY when DEBUG is off, HTTPS on by default,
and ``check --deploy`` clean. Each case runs ``manage.py`` in a subprocess with production
settings (``convstore.settings``) and a controlled environment."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRODUCTION_KEY = secrets.token_urlsafe(50)


def production_env(**overrides) -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"SECRET_KEY", "DEBUG", "CONVSTORE_HTTPS", "ALLOWED_HOSTS"}
        and not k.startswith("PYTEST")
        and k != "DJANGO_ALLOW_ASYNC_UNSAFE"  # set by pytest-django's live server
    }
    env["DJANGO_SETTINGS_MODULE"] = "convstore.settings"
    env.update(overrides)
    return {k: v for k, v in env.items() if v is not None}


def python(*args, env) -> subprocess.CompletedProcess:
    """``python *args`` in the repository with ``env``; output captured as text."""
    return subprocess.run(
        [sys.executable, *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def manage(*args, env) -> subprocess.CompletedProcess:
    return python(str(ROOT / "manage.py"), *args, env=env)


def test_check_deploy_is_clean_with_debug_off_a_key_and_hosts():
    env = production_env(DEBUG="0", SECRET_KEY=PRODUCTION_KEY, ALLOWED_HOSTS="convstore.example")
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_plain_http_deployment_turns_https_settings_off():
    env = production_env(SECRET_KEY=PRODUCTION_KEY, CONVSTORE_HTTPS="0")
    result = manage("diffsettings", env=env)
    assert result.returncode == 0, result.stderr
    assert "SECURE_SSL_REDIRECT" not in result.stdout
    on = manage("diffsettings", env=production_env(SECRET_KEY=PRODUCTION_KEY))
    assert "SECURE_SSL_REDIRECT = True" in on.stdout
    assert "SECURE_HSTS_SECONDS = 31536000" in on.stdout
    assert "SESSION_COOKIE_SECURE = True" in on.stdout
    assert "SECURE_PROXY_SSL_HEADER = ('HTTP_X_FORWARDED_PROTO', 'https')" in on.stdout


def test_server_refuses_to_start_without_secret_key():
    env = production_env(DEBUG="0")
    for module in ("convstore.wsgi", "convstore.asgi"):  # gunicorn, and any ASGI server
        served = python("-c", f"import {module}", env=env)
        assert served.returncode != 0
        assert "ImproperlyConfigured: SECRET_KEY must be set when DEBUG is off" in served.stderr
    # runserver loads WSGI_APPLICATION before it serves, so it stops too.
    runserver = manage("runserver", "--noreload", "127.0.0.1:0", env=env)
    assert runserver.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in runserver.stderr
    deploy = manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert deploy.returncode != 0 and "SECRET_KEY" in deploy.stderr


def test_development_starts_without_secret_key_when_debug_is_on():
    result = manage("check", env=production_env(DEBUG="1"))
    assert result.returncode == 0, result.stderr


def test_commands_that_sign_nothing_run_without_secret_key():
    """Only serving needs the key: ``makemigrations --check``, run as a plain
    ``manage.py`` command in a shell with no SECRET_KEY and DEBUG off, checks the models."""
    result = manage("makemigrations", "--check", "--dry-run", env=production_env(DEBUG="0"))
    assert result.returncode == 0, result.stderr
    assert "No changes detected" in result.stdout


def test_prepared_statements_are_on_for_postgresql_and_can_be_turned_off():
    """``DB_PREPARED_STATEMENTS=0`` (a pooler that cannot keep prepared statements) leaves
    the connection without a ``prepare_threshold``, so psycopg prepares nothing; by default
    PostgreSQL connections get one (what the hot statements' ``prepare=True`` needs, see
    ``tests/test_write_path.py``). SQLite has no such option."""
    code = (
        "from convstore import settings; "
        "print(settings.DATABASES['default'].get('OPTIONS', {}).get('prepare_threshold'))"
    )
    postgres = "postgres://postgres@127.0.0.1:5432/convstore"
    answers = {}
    for name, overrides in {
        "default": {"DATABASE_URL": postgres, "DB_PREPARED_STATEMENTS": None},
        "off": {"DATABASE_URL": postgres, "DB_PREPARED_STATEMENTS": "0"},
        "sqlite": {"DATABASE_URL": "sqlite:////tmp/convstore-settings.sqlite3"},
    }.items():
        result = python("-c", code, env=production_env(SECRET_KEY=PRODUCTION_KEY, **overrides))
        assert result.returncode == 0, result.stderr
        answers[name] = result.stdout.strip()
    assert answers == {"default": str(2**31 - 1), "off": "None", "sqlite": "None"}


def test_runserver_without_secret_key_stops_with_one_line():
    """With the autoreloader (``runserver``'s default) too: one line and exit 1, rather than
    a traceback in a thread and a reloader left running with nothing listening."""
    result = manage("runserver", "127.0.0.1:0", env=production_env(DEBUG="0"))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "CommandError: SECRET_KEY must be set when DEBUG is off (e.g. SECRET_KEY=$(python -c "
        "'import secrets; print(secrets.token_urlsafe(50))')), or set DEBUG=1 for development."
    ]


def test_gunicorn_without_secret_key_stops_with_one_line():
    """gunicorn with convstore's config (``preload_app``): one ``Error:`` line, exit 1."""
    result = subprocess.run(
        [str(Path(sys.executable).with_name("gunicorn")), "-c", "gunicorn.conf.py",
         "-b", "127.0.0.1:0", "-w", "1", "convstore.wsgi"],
        env=production_env(DEBUG="0"), cwd=ROOT, capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "Error: ImproperlyConfigured: SECRET_KEY must be set when DEBUG is off (e.g. "
        "SECRET_KEY=$(python -c 'import secrets; print(secrets.token_urlsafe(50))')), or set "
        "DEBUG=1 for development."
    ]


def test_probes_answer_over_plain_http_while_the_api_redirects_to_https():
    """Production settings redirect plain HTTP to HTTPS, except the probes: a load
    balancer's HTTP health check of ``/healthz``/``/readyz`` and a Prometheus scrape of
    ``/metrics`` reach the app instead of getting ``301 https://…`` (which a health check
    counts as neither up nor down, and which never runs the database check)."""
    code = (
        "import django; django.setup(); from django.test import Client; c = Client(); "
        "print(*[c.get(p).status_code for p in "
        "('/healthz', '/readyz', '/metrics', '/openai/v1/conversations', '/admin/')])"
    )
    env = production_env(
        SECRET_KEY=PRODUCTION_KEY, DEBUG="0", DATABASE_URL="sqlite:////tmp/convstore-probes.sqlite3"
    )
    result = python("-c", code, env=env)
    assert result.returncode == 0, result.stderr
    healthz, readyz, metrics, api, admin = map(int, result.stdout.split())
    assert healthz == 200
    assert readyz in (200, 503)  # the probe ran (an unmigrated file answers 503)
    assert metrics in (401, 403, 404)  # the metrics view answered: closed without a token
    assert (api, admin) == (301, 301)  # everything else still goes to HTTPS
