"""The satisfaction page a post-purchase message links to: the answer lands on the timeline."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.core import signing
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache

from customers import services as customers
from customers.models import Interaction
from journeys.engine import CSAT_SALT
from journeys.models import Enrollment


class ScoreForm(forms.Form):
    score = forms.TypedChoiceField(
        label=_("How happy are you with your order?"),
        choices=[(n, str(n)) for n in range(1, 6)],
        coerce=int,
        widget=forms.RadioSelect,
    )
    comment = forms.CharField(label=_("Anything to add?"), required=False, max_length=2000,
                              widget=forms.Textarea(attrs={"rows": 3}))  # fmt: skip


@never_cache
def csat(request: HttpRequest, token: str) -> HttpResponse:
    """GET asks (1–5 and a comment); POST records the answer once on the customer's timeline."""
    try:
        enrollment_id = signing.loads(token, salt=CSAT_SALT)["e"]
    except (signing.BadSignature, KeyError, TypeError):
        return render(request, "journeys/csat.html", {"invalid": True}, status=404)
    enrollment = Enrollment.objects.select_related("customer").filter(pk=enrollment_id).first()
    if enrollment is None:
        return render(request, "journeys/csat.html", {"invalid": True}, status=404)
    customer = customers.live(enrollment.customer)
    with translation.override(customer.locale or settings.LANGUAGE_CODE):
        answered = enrollment.context.get("csat")
        form = ScoreForm(request.POST or None)
        if request.method == "POST" and answered is None and form.is_valid():
            answered = _record(
                enrollment.pk, form.cleaned_data["score"], form.cleaned_data["comment"]
            )
        status = 400 if request.method == "POST" and answered is None else 200
        return render(
            request,
            "journeys/csat.html",
            {"form": form, "answered": answered, "customer": customer},
            status=status,
        )


def _record(enrollment_id: int, score: int, comment: str) -> dict:
    with transaction.atomic():
        enrollment = Enrollment.objects.select_for_update().get(pk=enrollment_id)
        if enrollment.context.get("csat") is not None:
            return enrollment.context["csat"]
        answer = {"score": score, "comment": comment, "at": timezone.now().isoformat()}
        enrollment.context = {**enrollment.context, "csat": answer}
        enrollment.save(update_fields=["context"])
        customers.record_interaction(
            customer=enrollment.customer,
            type=Interaction.Type.TRACK,
            channel="web",
            name="CSAT Answered",
            summary=f"CSAT {score}/5" + (f": {comment[:200]}" if comment else ""),
            properties={"score": score, "comment": comment, "enrollment": enrollment.pk,
                        **({"order_id": enrollment.context.get("order_id")}
                           if enrollment.context.get("order_id") else {})},
        )  # fmt: skip
        return answer
