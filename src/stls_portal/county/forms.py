from __future__ import annotations

from django import forms


class WaiverForm(forms.Form):
    reason = forms.CharField(
        label="Reason",
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": "Enter the reason the return will not come"},
    )
    approved_by = forms.CharField(
        label="Approved by",
        max_length=150,
        error_messages={"required": "Enter the name of the person who approved it"},
    )
    approved_on = forms.DateField(
        label="Approved on",
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={
            "required": "Enter the date it was approved",
            "invalid": "Enter the date it was approved as a real date, for example 2022-04-30",
        },
    )
