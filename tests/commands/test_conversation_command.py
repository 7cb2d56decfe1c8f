"""``manage.py conversation show|set|unset|ai-off|ai-on``."""

import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError

from conversations.models import MetadataChange


@pytest.mark.django_db
def test_set_merges_pairs_and_is_audited_as_the_command(run, make_conversation):
    conversation = make_conversation({"customer_name": "Jane"})

    out, _ = run("conversation", "set", f"conv_{conversation.pk.hex}", "order_id=ORD-1", "a=b=c")

    conversation.refresh_from_db()
    assert conversation.metadata == {"customer_name": "Jane", "order_id": "ORD-1", "a": "b=c"}
    assert '"order_id": "ORD-1"' in out
    change = MetadataChange.objects.get(conversation=conversation, actor="conversation set")
    assert (change.actor_type, change.actor, change.action) == (
        "command",
        "conversation set",
        "merge",
    )


@pytest.mark.django_db
def test_unset_removes_keys_by_any_id_form(run, make_conversation):
    conversation = make_conversation({"a": "1", "b": "2"})

    run("conversation", "unset", str(conversation.pk), "a", "missing")

    conversation.refresh_from_db()
    assert conversation.metadata == {"b": "2"}
    assert MetadataChange.objects.get(actor="conversation unset").after == {"b": "2"}


@pytest.mark.django_db
def test_ai_off_and_on_flip_the_switch_and_report_no_ops(run, make_conversation):
    conversation = make_conversation()

    out_off, _ = run("conversation", "ai-off", conversation.pk.hex)
    again, _ = run("conversation", "ai-off", conversation.pk.hex)
    conversation.refresh_from_db()
    assert conversation.ai_disabled is True
    out_on, _ = run("conversation", "ai-on", conversation.pk.hex)

    conversation.refresh_from_db()
    assert conversation.ai_disabled is False
    assert "AI turned off" in out_off and "already off" in again and "AI turned on" in out_on
    actors = list(
        MetadataChange.objects.filter(action="ai_switch")
        .order_by("id")
        .values_list("actor_type", "actor")
    )
    assert actors == [("command", "conversation ai-off"), ("command", "conversation ai-on")]


@pytest.mark.django_db
def test_metadata_errors_name_the_rule_and_write_nothing(run, make_conversation):
    conversation = make_conversation({"a": "1"})

    with pytest.raises(CommandError, match="key_too_long") as excinfo:
        run("conversation", "set", conversation.pk.hex, "k" * 65 + "=v")
    assert excinfo.value.returncode == 1
    with pytest.raises(CommandError, match="invalid_ai_disabled"):
        run("conversation", "set", conversation.pk.hex, "ai_disabled=maybe")
    with pytest.raises(CommandError, match="Expected KEY=VALUE"):
        run("conversation", "set", conversation.pk.hex, "novalue")

    conversation.refresh_from_db()
    assert conversation.metadata == {"a": "1"}
    assert not MetadataChange.objects.exclude(actor="tests").exists()


@pytest.mark.django_db
def test_unknown_or_malformed_id_is_a_command_error(run):
    with pytest.raises(CommandError, match="No conversation"):
        run("conversation", "show", "conv_" + "0" * 32)
    with pytest.raises(CommandError, match="No conversation"):
        run("conversation", "show", "not-an-id")


@pytest.mark.django_db
def test_show_prints_the_conversation(run, make_conversation):
    conversation = make_conversation({"ai_disabled": True, "topic": "x"}, messages=[("user", "hi")])

    out, _ = run("conversation", "show", str(conversation.pk))

    assert f"conv_{conversation.pk.hex}" in out
    assert "AI:            off" in out
    assert "messages:      1" in out
    assert '"topic": "x"' in out


def test_command_line_exit_codes():
    """Usage mistakes exit 2 (argparse); operator errors exit 1 with a message on stderr."""
    manage = Path(__file__).resolve().parents[2] / "manage.py"
    usage = subprocess.run(
        [sys.executable, manage, "conversation"], capture_output=True, text=True, check=False
    )
    helped = subprocess.run(
        [sys.executable, manage, "conversation", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert usage.returncode == 2
    assert helped.returncode == 0
    assert "ai-off" in helped.stdout
