"""``python manage.py conversation show|set|unset|ai-off|ai-on ID …``: one conversation.

Every write goes through :mod:`conversations.services` and is audited as the command
(actor type ``command``, e.g. ``conversation set``). ``ai-off`` takes a timed handoff
(:mod:`conversations.domain.handoff`): ``--for 30m`` (``90s``, ``15m``, ``4h``, ``1d``),
``--until 2026-12-07T17:00:00Z`` (RFC 3339), ``--idle 10m`` (back once the agent side has
been silent that long) and ``--reason TEXT``.
"""

import argparse
import json

from django.core.management.base import BaseCommand, CommandError

from conversations import services
from conversations.domain import clock, handoff
from conversations.domain.durations import parse_duration, parse_until
from conversations.domain.ids import prefixed
from conversations.domain.metadata import MetadataError
from conversations.models import Conversation
from conversations.selectors import conversation_get_any


class Command(BaseCommand):
    help = "Show a conversation, set or unset metadata keys, or flip its AI switch."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")
        id_help = "Conversation id: conv_<32 hex>, 32 hex or a dashed UUID."
        show = sub.add_parser("show", help="Print the conversation and its metadata.")
        show.add_argument("id", help=id_help)
        set_ = sub.add_parser("set", help="Merge KEY=VALUE pairs into the metadata.")
        set_.add_argument("id", help=id_help)
        set_.add_argument("pairs", nargs="+", metavar="KEY=VALUE", help="Pairs to set.")
        unset = sub.add_parser("unset", help="Remove metadata keys.")
        unset.add_argument("id", help=id_help)
        unset.add_argument("keys", nargs="+", metavar="KEY", help="Keys to remove.")
        off = sub.add_parser("ai-off", help="Switch AI replies off (a person takes over).")
        off.add_argument("id", help=id_help)
        off.add_argument(
            "--for",
            dest="duration",
            type=_duration,
            metavar="DURATION",
            help="Back on by itself after this long: 90s, 15m, 4h, 1d.",
        )
        off.add_argument(
            "--until",
            type=_until,
            metavar="TIME",
            help="Back on by itself at this RFC 3339 time, e.g. 2026-12-07T17:00Z.",
        )
        off.add_argument(
            "--idle",
            type=_duration,
            metavar="DURATION",
            help="Back on once the agent side has been silent this long.",
        )
        off.add_argument("--reason", default="", help="Why (shown to staff; ≤ 512 characters).")
        sub.add_parser("ai-on", help="Switch AI replies on.").add_argument("id", help=id_help)

    def handle(self, *args, subcommand, id, **options):
        try:
            conversation = conversation_get_any(conversation_id=id)
        except Conversation.DoesNotExist:
            raise CommandError(f"No conversation with id '{id}'.") from None
        actor = services.Actor.for_command(f"conversation {subcommand}")
        try:
            if subcommand == "set":
                patch = dict(self._pair(p) for p in options["pairs"])
                conversation = services.conversation_metadata_merge(
                    conversation=conversation, patch=patch, actor=actor
                )
            elif subcommand == "unset":
                patch = dict.fromkeys(options["keys"])
                conversation = services.conversation_metadata_merge(
                    conversation=conversation, patch=patch, actor=actor
                )
            elif subcommand in ("ai-off", "ai-on"):
                state = subcommand[3:]
                timing = {}
                if state == "off":
                    if options["duration"] and options["until"]:
                        raise CommandError("Give --for or --until, not both.")
                    timing = {
                        "duration": options["duration"],
                        "until": options["until"],
                        "idle": options["idle"],
                        "reason": options["reason"],
                    }
                conversation, changed = services.conversation_ai_set(
                    conversation=conversation, disabled=state == "off", actor=actor, **timing
                )
                label = prefixed(conversation.pk, "conv")
                end = handoff.until(conversation.metadata)
                tail = f" until {end.isoformat()}" if state == "off" and end else ""
                self.stdout.write(
                    f"AI turned {state} for {label}{tail}."
                    if changed
                    else f"AI was already {state} for {label}; nothing changed."
                )
                return
        except MetadataError as exc:
            raise CommandError(f"Metadata rule broken ({exc.code}): {exc.message}") from None
        self._show(conversation)

    @staticmethod
    def _pair(text: str) -> tuple[str, str]:
        key, sep, value = text.partition("=")
        if not sep:
            raise CommandError(f"Expected KEY=VALUE, got '{text}'.")
        return key, value

    def _show(self, conversation: Conversation) -> None:
        lines = [
            ("id", f"{prefixed(conversation.pk, 'conv')}  ({conversation.pk})"),
            ("project", conversation.project.name),
            ("isolation key", conversation.isolation_key or "(none)"),
            ("name", conversation.name),
            ("channel", conversation.channel),
            ("created", conversation.created_at.isoformat()),
            ("last activity", conversation.last_message_at.isoformat()),
            ("AI", _ai_state(conversation)),
            ("messages", str(conversation.message_count)),
        ]
        for label, value in lines:
            self.stdout.write(f"{label + ':':<15}{value}")
        metadata = handoff.effective_metadata(conversation)
        metadata = json.dumps(metadata, ensure_ascii=False, indent=2, sort_keys=True)
        self.stdout.write(f"{'metadata:':<15}{metadata}")


def _duration(text: str):
    try:
        value = parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if not value:
        raise argparse.ArgumentTypeError("The duration must be at least 1 second.")
    return value


def _until(text: str):
    try:
        return parse_until(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _ai_state(conversation: Conversation) -> str:
    """``on``, ``off`` or ``off until <time>``, as readers see it now."""
    if not handoff.ai_off(conversation.metadata, clock.now()):
        return "on"
    end = handoff.until(conversation.metadata)
    return f"off until {end.isoformat()}" if end else "off (until turned on)"
