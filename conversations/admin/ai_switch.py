"""The AI switch's controls on the conversation admin: the list's badge-and-button column,
the POST view it (and the conversation page) posts to, and the bulk "Turn AI off/on" actions.

:class:`AiSwitchAdmin` is mixed into :class:`conversations.admin.conversations.ConversationAdmin`.
Every switch goes through :func:`conversations.services.conversation_ai_set` with
``Actor.for_staff(user)``; how the state reads is :mod:`conversations.admin.handoff`.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import url_has_allowed_host_and_scheme

from conversations import services
from conversations.admin.handoff import AI_OFF_SHORT, ai_badge, ai_is_off, handoff_until_text
from conversations.admin.paging import count_noun, pks_in_chunks
from conversations.domain.durations import parse_duration
from conversations.domain.ids import prefixed
from conversations.domain.metadata import MetadataError
from conversations.models import Conversation


class AiSwitchAdmin:
    """A ModelAdmin mixin for conversations: the ``ai_switch`` list column, the URL
    ``<id>/ai/<off|on>/`` (``admin:conversations_conversation_ai``) and the actions
    ``turn_ai_off`` / ``turn_ai_on``."""

    @admin.display(description="AI")
    def ai_switch(self, obj):
        """The state as a badge and a POST button that flips it (CSRF-protected); turning off
        takes a duration from the select beside it (until turned on by default)."""
        turn_off = not ai_is_off(obj)
        url = reverse(
            "admin:conversations_conversation_ai",
            args=[obj.pk, "off" if turn_off else "on"],
        )
        choose = ""
        if turn_off:
            choose = format_html(
                '<select name="ai_for_{}" class="ai-for" aria-label="Turn AI off for how long">'
                "{}</select>",
                obj.pk.hex,
                format_html_join("", '<option value="{}">{}</option>', AI_OFF_SHORT),
            )
        return format_html(
            '<div class="ai-cell">{}{}'
            '<button type="submit" class="ai-toggle {}" formaction="{}" formmethod="post" '
            'data-conversation="{}">{}</button></div>',
            ai_badge(obj),
            choose,
            "turn-off" if turn_off else "turn-on",
            url,
            obj.pk.hex,
            "Turn AI off" if turn_off else "Turn AI on",
        )

    def get_urls(self):
        return [
            path(
                "<path:object_id>/ai/<str:state>/",
                self.admin_site.admin_view(self.ai_switch_view),
                name="conversations_conversation_ai",
            ),
            *super().get_urls(),
        ]

    def ai_switch_view(self, request, object_id, state):
        """POST ``…/<id>/ai/off/`` or ``…/ai/on/``: flip one conversation's switch, go back."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if state not in ("off", "on"):
            raise Http404("Unknown AI switch state.")
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404("Conversation not found.")
        if not self.has_change_permission(request, obj):
            raise PermissionDenied
        label = prefixed(obj.pk, "conv")
        # The list posts ai_for_<hex> (one select per row); the conversation page ai_for.
        length = request.POST.get(f"ai_for_{obj.pk.hex}", request.POST.get("ai_for", ""))
        try:
            duration = parse_duration(length) if state == "off" and length else None
        except ValueError:
            duration = None
            self.message_user(request, f"Unknown duration {length!r}.", messages.ERROR)
        try:
            if duration is not None or not length or state == "on":
                obj, changed = services.conversation_ai_set(
                    conversation=obj,
                    disabled=state == "off",
                    actor=services.Actor.for_staff(request.user),
                    duration=duration,
                    reason=request.POST.get("ai_reason", "").strip() if state == "off" else "",
                )
                tail = f" {handoff_until_text(obj)}" if state == "off" and changed else ""
                text = (
                    f"AI turned {state} for {label}{tail}."
                    if changed
                    else f"AI was already {state} for {label}."
                )
                self.message_user(request, text, messages.SUCCESS if changed else messages.INFO)
        except MetadataError as exc:
            self.message_user(request, f"{label}: {exc.message}", messages.ERROR)
        back = request.headers.get("referer", "")
        if not url_has_allowed_host_and_scheme(
            back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            back = reverse("admin:conversations_conversation_changelist")
        return HttpResponseRedirect(back)

    @admin.action(description="Turn AI off for the selected conversations")
    def turn_ai_off(self, request, queryset):
        self._set_ai(request, queryset, disabled=True)

    @admin.action(description="Turn AI on for the selected conversations")
    def turn_ai_on(self, request, queryset):
        self._set_ai(request, queryset, disabled=False)

    def _set_ai(self, request, queryset, *, disabled):
        state = "off" if disabled else "on"
        actor = services.Actor.for_staff(request.user)
        changed = unchanged = 0
        failed = []
        for pk in pks_in_chunks(queryset):
            try:
                _, did = services.conversation_ai_set(
                    conversation=pk, disabled=disabled, actor=actor
                )
            except Conversation.DoesNotExist:
                continue
            except MetadataError as exc:
                failed.append(f"{prefixed(pk, 'conv')} ({exc.message})")
                continue
            changed += did
            unchanged += not did
        text = f"AI turned {state} for {count_noun(changed)}"
        if unchanged:
            text += f"; {unchanged} {'was' if unchanged == 1 else 'were'} already {state}"
        self.message_user(request, text + ".", messages.SUCCESS)
        if failed:
            self.message_user(
                request,
                f"Could not turn AI {state} for {count_noun(len(failed))}: "
                + "; ".join(failed[:10]),
                messages.ERROR,
            )
