"""``python manage.py conversation show|set|unset|ai-off|ai-on ID …``: one conversation.

Every write goes through :mod:`conversations.services` and is audited as the command
(actor type ``command``, e.g. ``conversation set``).
"""

import json

from django.core.management.base import BaseCommand, CommandError

from conversations import services
from conversations.ids import prefixed
from conversations.metadata import MetadataError
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
        for name, text in (("ai-off", "Switch AI replies off."), ("ai-on", "Switch them on.")):
            sub.add_parser(name, help=text).add_argument("id", help=id_help)

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
                conversation, changed = services.conversation_ai_set(
                    conversation=conversation, disabled=state == "off", actor=actor
                )
                label = prefixed(conversation.pk, "conv")
                self.stdout.write(
                    f"AI turned {state} for {label}."
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
            ("AI", "off" if conversation.ai_disabled else "on"),
            ("messages", str(conversation.message_count)),
        ]
        for label, value in lines:
            self.stdout.write(f"{label + ':':<15}{value}")
        metadata = json.dumps(conversation.metadata, ensure_ascii=False, indent=2, sort_keys=True)
        self.stdout.write(f"{'metadata:':<15}{metadata}")
