"""The AI switch as staff see it: the badge, "until 14:05", the "Turn AI off" choices.

Every state shown is the one readers see now (:mod:`conversations.domain.handoff`): a timed handoff
whose time has passed shows "AI on" before its resume is written down.
"""

from __future__ import annotations

from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.timezone import localtime

from conversations.domain import clock, handoff
from conversations.domain import metadata as rules

#: The same choices as AI_OFF_CHOICES, labelled short for the list rows.
AI_OFF_SHORT = (("", "until on"), ("15m", "15 min"), ("1h", "1 h"), ("4h", "4 h"))
#: The admin's "Turn AI off" choices: (POST value, label); "" is until turned on.
AI_OFF_CHOICES = (
    ("", "until turned on"),
    ("15m", "for 15 min"),
    ("1h", "for 1 h"),
    ("4h", "for 4 h"),
)


def ai_is_off(conversation) -> bool:
    """Whether AI replies are off now (a timed handoff whose time passed is on)."""
    return handoff.ai_off(conversation.metadata, clock.now())


def handoff_until_text(conversation) -> str:
    """``until 14:05 UTC`` (or ``until 2026-12-08 14:05 UTC`` on another day) for a timed
    handoff in force, ``until turned on`` for an untimed one, ``""`` when the AI is on."""
    if not ai_is_off(conversation):
        return ""
    end = handoff.until(conversation.metadata)
    if end is None:
        return "until turned on"
    local, today = localtime(end), localtime(clock.now())
    when = date_format(local, "H:i T" if local.date() == today.date() else "Y-m-d H:i T")
    return f"until {when}"


def ai_badge(conversation, *, hint: bool = False):
    """The AI state as a coloured badge: green "AI on", red "AI off" (as readers see it now),
    followed for a handoff by when it ends and, in the tooltip, who took over and why."""
    off = ai_is_off(conversation)
    badge = format_html(
        '<span class="ai-badge ai-state {}" data-ai="{}">{}{}</span>',
        "ai-off" if off else "ai-on",
        "off" if off else "on",
        "AI off" if off else "AI on",
        format_html(' <span class="ai-hint">(ai_disabled={})</span>', "true" if off else "false")
        if hint
        else "",
    )
    if not off:
        return badge
    reason = (conversation.metadata or {}).get(rules.AI_DISABLED_REASON_KEY, "")
    by = getattr(conversation, "handoff_by", None)
    tip = " · ".join(
        part for part in (f"by {by}" if by else "", f"reason: {reason}" if reason else "") if part
    )
    return format_html(
        '{}<span class="ai-until" title="{}">{}</span>',
        badge,
        tip,
        handoff_until_text(conversation),
    )
