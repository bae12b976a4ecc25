from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AuthenticationForm


class SignInForm(AuthenticationForm):
    error_messages = {
        "invalid_login": "Enter a correct username and password. Both are case-sensitive.",
        "inactive": "This account is not active. Ask the STLS finance team to enable it.",
    }


class UploadForm(forms.Form):
    file = forms.FileField(
        label="Upload a return",
        error_messages={
            "required": "Select a return to upload",
            "empty": "The selected file is empty: choose the saved return",
        },
    )


class ExplanationForm(forms.Form):
    explanation = forms.CharField(
        label="Your explanation",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={"required": "Enter an explanation of what was found"},
    )


class SignOffForm(forms.Form):
    declaration = forms.BooleanField(
        label="I confirm this declaration",
        error_messages={"required": "Confirm the declaration to sign off the return"},
    )


class WaiverForm(forms.Form):
    reason = forms.CharField(
        label="Reason",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": "Enter the reason for the waiver"},
    )
