"""The rule builder's vocabulary: every field, condition and label that
static/campaigns/segment_builder.js offers, rendered into the segment page with
``json_script`` so the labels are translated with the page.

An op's ``input`` names the value input it needs (the script draws each kind); a field's
``params`` are drawn before the op (trait key, event name and properties), its ``tail`` after
the value (an event's count and days).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from campaigns import segments
from campaigns.models import Segment
from customers.models import Customer, Identity

# Suggestions for the event rule's name: the e-commerce events of the tracking spec.
COMMON_EVENTS = (
    "Product Viewed",
    "Product Added",
    "Product Removed",
    "Cart Viewed",
    "Checkout Started",
    "Order Completed",
    "Order Refunded",
    "Products Searched",
)


def _op(
    value: str, label: Any, input_: str = "none", default: Any = None, unit: Any = ""
) -> dict[str, Any]:
    op = {"value": value, "label": label, "input": input_, "unit": unit}
    if default is not None:
        op["default"] = default
    return op


TEXT_OPS = [
    _op("eq", _("is"), "text"),
    _op("ne", _("is not"), "text"),
    _op("contains", _("contains"), "text"),
    _op("in", _("is one of"), "texts"),
    _op("is_set", _("is set")),
    _op("not_set", _("is not set")),
]


def _number_ops(input_: str) -> list[dict[str, Any]]:
    return [
        _op("eq", _("is"), input_, 0),
        _op("ne", _("is not"), input_, 0),
        _op("gt", _("is more than"), input_, 0),
        _op("gte", _("is at least"), input_, 1),
        _op("lt", _("is less than"), input_, 1),
        _op("lte", _("is at most"), input_, 1),
    ]


def _field(
    value: str,
    label: Any,
    group: Any,
    ops: list[dict[str, Any]],
    *,
    params: Iterable[str] = (),
    tail: Iterable[str] = (),
    defaults: Mapping[str, Any] | None = None,
    suggest: str = "",
) -> dict[str, Any]:
    return {
        "value": value,
        "label": label,
        "group": group,
        "ops": ops,
        "params": list(params),
        "tail": list(tail),
        "defaults": dict(defaults or {}),
        "suggest": suggest,
    }


PROFILE, CONTACT, ACTIVITY, PURCHASES, OTHER = (
    _("Profile"),
    _("Contact and consent"),
    _("Activity"),
    _("Purchases"),
    _("Other segments"),
)

FIELDS = [
    _field("first_name", _("First name"), PROFILE, TEXT_OPS),
    _field("last_name", _("Last name"), PROFILE, TEXT_OPS),
    _field("locale", _("Language"), PROFILE, TEXT_OPS, suggest="locales"),
    _field("time_zone", _("Time zone"), PROFILE, TEXT_OPS),
    _field(
        "stage",
        _("Lifecycle stage"),
        PROFILE,
        [_op("in", _("is one of"), "stages"), _op("not_in", _("is none of"), "stages")],
    ),
    _field(
        "trait",
        _("Trait"),
        PROFILE,
        [
            _op("eq", _("is"), "scalar"),
            _op("ne", _("is not"), "scalar"),
            _op("in", _("is one of"), "scalars"),
            _op("is_set", _("is set")),
            _op("not_set", _("is not set")),
        ],
        params=["key"],
        defaults={"key": ""},
    ),
    _field(
        "identity",
        _("Identifier"),
        CONTACT,
        [_op("present", _("is known")), _op("absent", _("is not known"))],
        params=["kind"],
        defaults={"kind": Identity.Kind.EMAIL},
    ),
    _field(
        "consent",
        _("Marketing consent"),
        CONTACT,
        [_op("granted", _("reachable (consented)")), _op("not_granted", _("not reachable"))],
        params=["channel"],
        defaults={"channel": "email"},
    ),
    _field(
        "last_seen",
        _("Last seen"),
        ACTIVITY,
        [
            _op("within_days", _("within the last"), "integer", 30, _("days")),
            _op("not_within_days", _("not within the last"), "integer", 30, _("days")),
        ],
    ),
    _field(
        "event",
        _("Event"),
        ACTIVITY,
        [_op("at_least", _("at least"), "none"), _op("fewer_than", _("fewer than"), "none")],
        params=["name", "properties"],
        tail=["count", "days"],
        defaults={"name": "", "count": 1, "days": 7},
    ),
    _field(
        "cart",
        _("Cart"),
        ACTIVITY,
        [
            _op("has_items", _("has items")),
            _op("empty", _("is empty")),
            _op("idle_hours", _("has items, untouched for"), "integer", 24, _("hours")),
        ],
    ),
    _field("order_count", _("Number of orders"), PURCHASES, _number_ops("integer")),
    _field("total_spent", _("Total spent"), PURCHASES, _number_ops("decimal")),
    _field(
        "segment",
        _("Segment"),
        OTHER,
        [_op("in", _("is in"), "segment"), _op("not_in", _("is not in"), "segment")],
    ),
]

CHANNEL_LABELS: dict[str, Any] = {
    "email": _("Email"),
    "sms": _("SMS"),
    "phone": _("Phone"),
    "whatsapp": _("WhatsApp"),
    "telegram": _("Telegram"),
    "push": _("Push"),
    "webhook": _("Webhook"),
}

BUILDER_TEXT = {
    "matchAll": _("Match all of these"),
    "matchAny": _("Match any of these"),
    "addRule": _("Add rule"),
    "addGroup": _("Add group"),
    "remove": _("Remove"),
    "removeGroup": _("Remove group"),
    "field": _("Field"),
    "operator": _("Condition"),
    "value": _("Value"),
    "values": _("Values, separated by commas"),
    "asText": _("text"),
    "asNumber": _("number"),
    "valueType": _("Value type"),
    "key": _("Trait name"),
    "kind": _("Identifier kind"),
    "channel": _("Channel"),
    "name": _("Event name"),
    "property": _("Property"),
    "addProperty": _("Add property"),
    "count": _("times in the last"),
    "days": _("days"),
    "segment": _("Segment"),
    "chooseSegment": _("Choose a segment"),
    "empty": _("No rules yet: the segment holds every customer."),
    "unknown": _("A rule the builder cannot show; edit it in the JSON below."),
    "badJson": _("The JSON below is not valid; the builder shows the last valid rules."),
    "counting": _("Counting…"),
    "failed": _("The count failed; try again."),
    "stale": _("The rules changed since this count."),
    "nobody": _("No customer matches these rules."),
}


def builder_choices(segment: Segment | None) -> dict[str, Any]:
    """What segment_builder.js offers, rendered into the page with ``json_script``."""
    others = Segment.objects.order_by("name").values_list("pk", "name")
    if segment is not None and segment.pk:
        others = others.exclude(pk=segment.pk)
    return {
        "fields": FIELDS,
        "stages": Customer.Stage.choices,
        "channels": [(c, CHANNEL_LABELS.get(c, c)) for c in segments.CHANNELS],
        "identityKinds": Identity.Kind.choices,
        "locales": settings.LANGUAGES,
        "events": COMMON_EVENTS,
        "segments": list(others),
        "maxDepth": segments.MAX_DEPTH,
        "text": BUILDER_TEXT,
    }
