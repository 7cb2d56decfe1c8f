"""Shared by the operator commands: naming a project on the command line."""

from django.core.management.base import CommandError

from conversations.models import Project


def project_by_name(name: str) -> Project:
    """The project called ``name``; ``CommandError`` ("No project named …", exit 1) if none."""
    try:
        return Project.objects.get(name=name)
    except Project.DoesNotExist:
        raise CommandError(f"No project named '{name}'.") from None
