"""Forms of the channels admin: channel settings that never show a secret, templates that must
parse, and the agent's one-off message on the customer page."""

from __future__ import annotations

import json
import re
import secrets
from typing import Any

from django import forms
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from channels import rendering
from channels.models import SECRET_PLACEHOLDER, Channel, Template, is_secret, masked
from security import crypto

# What a stored secret looks like in a form; sent back unchanged, it keeps the stored value.
PLACEHOLDER = SECRET_PLACEHOLDER
# The one-off message form's token becomes the idempotency key: random, so guessing another
# form's key is hopeless, and checked, so a hand-made one cannot be arbitrary text.
TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


mask_secrets = masked  # every secret, at any depth


def restore_secrets(submitted: Any, stored: Any) -> Any:
    """``submitted`` with each placeholder put back to the stored secret at the same place.
    A placeholder with nothing stored behind it stays, and the form refuses it."""
    if isinstance(submitted, dict):
        old = stored if isinstance(stored, dict) else {}
        restored = {}
        for key, item in submitted.items():
            if item == PLACEHOLDER and is_secret(str(key)) and key in old:
                restored[key] = old[key]
            else:
                restored[key] = restore_secrets(item, old.get(key))
        return restored
    if isinstance(submitted, list):
        old_items = stored if isinstance(stored, list) else []
        return [
            restore_secrets(item, old_items[n] if n < len(old_items) else None)
            for n, item in enumerate(submitted)
        ]
    return submitted


def _has_placeholder(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_has_placeholder(item) for item in value.values())
    if isinstance(value, list):
        return any(_has_placeholder(item) for item in value)
    return value == PLACEHOLDER


def _has_encrypted(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_has_encrypted(item) for item in value.values())
    if isinstance(value, list):
        return any(_has_encrypted(item) for item in value)
    return crypto.is_encrypted(value)


class SecretSettingsField(forms.JSONField):
    """Channel settings as JSON text, secrets shown as a placeholder (also when an invalid form
    comes back), and placeholders sent back unchanged restored from ``stored``."""

    default_error_messages = {
        "not_object": _("Settings must be a JSON object."),
        "placeholder": _("Type the secret value: there is no stored one to keep."),
        "encrypted": _("Type the secret itself, not an encrypted value (enc:v1:…)."),
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": 10, "dir": "ltr"}))
        super().__init__(*args, **kwargs)
        self.stored: dict[str, Any] = {}

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, dict | list):
            return json.dumps(mask_secrets(value), ensure_ascii=False, indent=2, sort_keys=True)
        return super().prepare_value(value)

    def clean(self, value: Any) -> Any:
        data = super().clean(value)
        if data in (None, ""):
            return {}
        if not isinstance(data, dict):
            raise forms.ValidationError(self.error_messages["not_object"], code="not_object")
        if _has_encrypted(data):  # the form never shows one, so it was typed or pasted
            raise forms.ValidationError(self.error_messages["encrypted"], code="encrypted")
        data = restore_secrets(data, self.stored)
        if _has_placeholder(data):
            raise forms.ValidationError(self.error_messages["placeholder"], code="placeholder")
        return data

    def has_changed(self, initial: Any, data: Any) -> bool:
        try:
            submitted = restore_secrets(self.to_python(data), self.stored)
        except forms.ValidationError:
            return True
        return json.dumps(initial, sort_keys=True) != json.dumps(submitted, sort_keys=True)


class ChannelAdminForm(forms.ModelForm):
    """A channel's configuration. Secrets are write-only: the settings show placeholders, and
    the webhook secret is never rendered; leaving either as shown keeps what is stored."""

    settings = SecretSettingsField(
        label=capfirst(_("settings")),
        required=False,
        help_text=_(
            "Backend settings as a JSON object. Secret values show as ••••••; leave them so "
            "to keep them, type a new value to replace one, remove the key to delete it."
        ),
    )
    webhook_secret = forms.CharField(
        label=capfirst(_("webhook secret")),
        required=False,
        max_length=200,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )
    clear_webhook_secret = forms.BooleanField(label=_("remove the webhook secret"), required=False)

    class Meta:
        model = Channel
        fields = [
            "name",
            "kind",
            "backend",
            "settings",
            "sender",
            "rate_limit",
            "priority",
            "window_start",
            "window_end",
            "skip_rest_days",
            "webhook_secret",
            "active",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        stored_secret = self.instance.webhook_secret if self.instance.pk else ""
        self.fields["settings"].stored = dict(self.instance.settings or {})
        self.fields["webhook_secret"].help_text = (
            _("A secret is set; leave empty to keep it, or type a new one to replace it.")
            if stored_secret
            else _("Shared secret the provider signs status and inbound webhooks with.")
        )
        # Never the stored value, not even as the field's initial data.
        self.initial["webhook_secret"] = ""

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        typed = data.get("webhook_secret") or ""
        if crypto.is_encrypted(typed):
            self.add_error(
                "webhook_secret", _("Type the secret itself, not an encrypted value (enc:v1:…).")
            )
        if data.get("clear_webhook_secret"):
            if typed:
                self.add_error(
                    "clear_webhook_secret", _("Either type a new secret or remove it, not both.")
                )
            data["webhook_secret"] = ""
        elif not typed and self.instance.pk:
            data["webhook_secret"] = self.instance.webhook_secret  # left empty: keep it
        return data


class TemplateAdminForm(forms.ModelForm):
    """A message template; one that does not parse is refused here, not at send time."""

    class Meta:
        model = Template
        fields = ["key", "kind", "locale", "subject", "text", "html", "active"]
        widgets = {
            "text": forms.Textarea(attrs={"rows": 8, "dir": "auto"}),
            "html": forms.Textarea(attrs={"rows": 12, "dir": "ltr"}),
            "subject": forms.TextInput(attrs={"size": 80, "dir": "auto"}),
        }

    def _parsed(self, name: str) -> str:
        source = self.cleaned_data.get(name) or ""
        if error := rendering.syntax_error(source):
            raise forms.ValidationError(
                _("Template error: %(error)s"), code="template_syntax", params={"error": error}
            )
        return source

    def clean_subject(self) -> str:
        return self._parsed("subject")

    def clean_text(self) -> str:
        return self._parsed("text")

    def clean_html(self) -> str:
        return self._parsed("html")


class PreviewCustomerForm(forms.Form):
    """Who a template preview is rendered for: found by name, email, phone or id."""

    q = forms.CharField(
        label=_("Customer"),
        required=False,
        max_length=200,
        help_text=_("Name, email, phone, or a customer id or public id."),
    )


def new_form_token() -> str:
    return secrets.token_urlsafe(24)


class SendMessageForm(forms.Form):
    """An agent's one-off message to the customer whose page it is on."""

    kind = forms.ChoiceField(label=_("Channel"))
    subject = forms.CharField(
        label=_("Subject"),
        required=False,
        max_length=300,
        help_text=_("Email only."),
        widget=forms.TextInput(attrs={"dir": "auto"}),
    )
    text = forms.CharField(
        label=_("Text"), max_length=5000, widget=forms.Textarea(attrs={"rows": 4, "dir": "auto"})
    )
    # Becomes the idempotency key: a second submit of the same form sends nothing new.
    token = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args: Any, kinds: list[str], **kwargs: Any) -> None:
        # The page also holds the profile and log forms; distinct ids keep <label for> unique.
        kwargs.setdefault("auto_id", "send-%s")
        super().__init__(*args, **kwargs)
        labels = dict(Channel.Kind.choices)
        self.fields["kind"].choices = [(kind, labels.get(kind, kind)) for kind in kinds]
        if Channel.Kind.EMAIL not in kinds:
            del self.fields["subject"]  # only email has one
        if not self.is_bound:
            self.initial.setdefault("token", new_form_token())

    def clean_token(self) -> str:
        token = self.cleaned_data["token"]
        if not TOKEN_PATTERN.match(token):
            raise forms.ValidationError(_("This form has expired; reload the page."))
        return token

    def clean_text(self) -> str:
        text = self.cleaned_data["text"].strip()
        if not text:
            raise forms.ValidationError(self.fields["text"].error_messages["required"])
        return text

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("kind") != Channel.Kind.EMAIL:
            data["subject"] = ""  # a leftover from switching kinds is noise
        return data
