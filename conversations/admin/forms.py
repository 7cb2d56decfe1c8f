"""The admin's forms: the conversation change form with its metadata rows, and adding an API key.

- :class:`ConversationAdminForm` edits ``name`` and the metadata, and refuses to save over a
  write made after the page was loaded.
- :class:`MetadataRowFormSet` edits metadata as key/value rows, checked by
  :func:`conversations.domain.metadata.validate_metadata` with each error shown on its row.
- :class:`ApiKeyAddForm` picks the new key's project and label.
"""

from __future__ import annotations

from django import forms
from django.forms.formsets import DELETION_FIELD_NAME

from conversations import services
from conversations.domain import handoff
from conversations.domain import metadata as rules
from conversations.domain.conditional import EntityTags, PreconditionFailed
from conversations.models import ApiKey, Conversation


class MetadataRowForm(forms.Form):
    """One metadata pair. Lengths are left to the metadata rules, so errors read the same as
    the API's and an over-long key is reported on its row, not cut by the browser."""

    key = forms.CharField(required=False, strip=False, widget=forms.TextInput(attrs={"size": 30}))
    value = forms.CharField(required=False, strip=False, widget=forms.TextInput(attrs={"size": 60}))


class BaseMetadataRowFormSet(forms.BaseFormSet):
    """Rows → one metadata object, validated by
    :func:`conversations.domain.metadata.validate_metadata`.

    Empty rows and rows marked for deletion are skipped. After :meth:`is_valid`, ``metadata``
    holds the cleaned object. A rule broken by one pair is reported on that pair's row
    (``MetadataError.params["key"]``); a rule about the whole object (more than 16 pairs) as a
    formset error.
    """

    metadata: dict[str, str] | None = None

    @staticmethod
    def initial_rows(metadata: dict | None) -> list[dict[str, str]]:
        return [{"key": k, "value": v} for k, v in (metadata or {}).items()]

    def clean(self):
        if any(self.errors):
            return
        rows: dict[str, forms.Form] = {}
        pairs: dict[str, str] = {}
        for form in self.forms:
            if self.can_delete and form.cleaned_data.get(DELETION_FIELD_NAME, False):
                continue
            key = form.cleaned_data.get("key", "")
            value = form.cleaned_data.get("value", "")
            if key == "" and value == "":
                continue
            if key in rows:
                form.add_error("key", f"Duplicate key '{key}': each key may appear once.")
                continue
            rows[key] = form
            pairs[key] = value
        if any(self.errors):
            return
        try:
            self.metadata = rules.validate_metadata(pairs)
        except rules.MetadataError as exc:
            # exc.message is already worded; avoid %-interpolating user text with params.
            message = str(exc.message)
            key = exc.params.get("key")
            if exc.code == "nul_character" and key is None:
                key = next((k for k in rows if "\x00" in k), None)
            form = rows.get(key) if key is not None else None
            if form is None:
                raise forms.ValidationError(message, code=exc.code) from exc
            on_key = exc.code in ("key_too_short", "key_too_long") or (
                exc.code == "nul_character" and "\x00" in key
            )
            form.add_error("key" if on_key else "value", message)


MetadataRowFormSet = forms.formset_factory(
    MetadataRowForm,
    formset=BaseMetadataRowFormSet,
    extra=3,
    can_delete=True,
    max_num=rules.MAX_PAIRS + 8,
)


class ConversationAdminForm(forms.ModelForm):
    """The conversation change form: ``name`` plus the metadata rows (prefix ``meta``).

    The form is invalid while any metadata row is, so the admin saves nothing at all. It is
    also invalid when the conversation changed after the page was loaded (an API client wrote
    meanwhile): saving would silently undo that write, so staff reload instead. The page
    carries the :attr:`Conversation.version` it showed (``loaded_version``); ``clean`` locks
    the row with that version as the precondition (the same ``If-Match`` check the API runs,
    :mod:`conversations.domain.conditional`), and the lock holds until the admin's save commits
    (``changeform_view`` runs in one transaction).
    """

    loaded_version = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    class Meta:
        model = Conversation
        fields = ("name",)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["loaded_version"].initial = self.instance.version
        self.metadata_rows = MetadataRowFormSet(
            data=self.data if self.is_bound else None,
            initial=BaseMetadataRowFormSet.initial_rows(handoff.effective_metadata(self.instance)),
            prefix="meta",
        )

    def clean(self):
        cleaned = super().clean()
        if not self.metadata_rows.is_valid():
            raise forms.ValidationError(
                "The metadata was not saved: correct the rows marked below.", code="metadata"
            )
        loaded = cleaned.get("loaded_version")
        if loaded and self.instance.pk is not None:
            try:
                services.conversation_lock(
                    conversation=self.instance.pk,
                    if_match=EntityTags.for_version(self.instance.pk, loaded),
                )
            except (PreconditionFailed, Conversation.DoesNotExist):
                raise forms.ValidationError(
                    "The conversation changed since this page was opened (its metadata, name or "
                    "messages, by someone else or through the API). Nothing was saved: reload "
                    "the page and edit again.",
                    code="conflict",
                ) from None
        return cleaned

    def has_changed(self):
        return super().has_changed() or self.metadata_rows.has_changed()


class ApiKeyAddForm(forms.ModelForm):
    """Create a key: project and label only; the key itself comes from ``api_key_create``."""

    class Meta:
        model = ApiKey
        fields = ("project", "name")
