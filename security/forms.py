"""The forms of the two-factor pages."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class CodeForm(forms.Form):
    """One code: six digits from the app or, where allowed, a backup code."""

    code = forms.CharField(
        label=_("Code"),
        max_length=32,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "autofocus": True,
                "dir": "ltr",
                "spellcheck": "false",
                "autocapitalize": "off",
                "size": 12,
            }
        ),
    )


class AppCodeForm(CodeForm):
    """The first code from the app, confirming the setup (digits only)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["code"].widget.attrs["inputmode"] = "numeric"
        self.fields["code"].help_text = _("The six digits the app shows now.")
