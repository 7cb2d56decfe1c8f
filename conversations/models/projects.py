"""Projects (tenants) and their API keys. The key format and its digest live here, below
both the writes (:mod:`conversations.services.api_keys`) and the reads that find keys."""

import hashlib

from django.db import models
from django.utils import timezone

API_KEY_PREFIX = "cs_"
#: Characters in a raw key: the prefix and 40 hex digits (160 random bits).
API_KEY_LENGTH = len(API_KEY_PREFIX) + 40


def hash_api_key(raw_key: str) -> str:
    """SHA-256 hex digest of a raw key (keys carry 160 random bits, so no slow hash is needed)."""
    return hashlib.sha256(raw_key.encode("utf-8", "surrogatepass")).hexdigest()


class Project(models.Model):
    """A tenant: API keys and conversations belong to exactly one project."""

    name = models.CharField("name", max_length=100, unique=True, help_text="Unique project name.")
    created_at = models.DateTimeField("created", default=timezone.now)

    class Meta:
        ordering = ["name"]
        verbose_name = "project"
        verbose_name_plural = "projects"

    def __str__(self):
        return self.name


class ApiKey(models.Model):
    """An API key of a project. Only its SHA-256 digest is stored; the key is shown once.

    Keys look like ``cs_`` + 40 random hex characters; ``prefix`` keeps the first 12
    characters so staff can tell keys apart.
    """

    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="api_keys", verbose_name="project"
    )
    name = models.CharField("name", max_length=100, blank=True, help_text="What the key is for.")
    prefix = models.CharField("prefix", max_length=16, help_text="First characters of the key.")
    key_hash = models.CharField(
        "key digest",
        max_length=64,
        unique=True,
        editable=False,
        help_text="SHA-256 hex digest of the key.",
    )
    created_at = models.DateTimeField("created", default=timezone.now)
    last_used_at = models.DateTimeField(
        "last used",
        null=True,
        blank=True,
        help_text="Updated at most once a minute per key, to keep requests write-free.",
    )
    revoked_at = models.DateTimeField("revoked", null=True, blank=True)

    #: Characters of the key kept in ``prefix``.
    PREFIX_LENGTH = 12

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"
        verbose_name_plural = "API keys"

    def __str__(self):
        return f"{self.prefix}… ({self.project})"

    @property
    def is_active(self) -> bool:
        """A key is active until it is revoked."""
        return self.revoked_at is None
