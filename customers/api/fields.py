"""Naming a customer in an API body: any identifier object, or the public id."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from customers import services
from customers.errors import DomainError
from customers.models import Customer, Source

IDENTIFIER_KEYS = ("id", "user_id", "anonymous_id", "email", "phone")


def customer_by_public_id(value: str | uuid.UUID) -> Customer | None:
    """The live customer with this public id (a merged one resolves to its survivor)."""
    try:
        public_id = uuid.UUID(str(value))
    except ValueError:
        return None
    customer = Customer.objects.filter(public_id=public_id).first()
    return services.live(customer) if customer is not None else None


def find_or_create(
    ref: Mapping[str, Any], *, source: Source | None, create: bool
) -> Customer | None:
    """Resolve an identifier object; ``create`` makes an unknown customer (with those ids)."""
    if ref.get("id"):
        return customer_by_public_id(ref["id"])
    identifiers = {k: v for k, v in ref.items() if k in IDENTIFIER_KEYS and k != "id" and v}
    if not create:
        return services.find_customer(identifiers)
    try:
        return services.resolve(identifiers, source=source)
    except DomainError:
        return None


@extend_schema_field(
    {
        "type": "object",
        "description": "Any one identifier of the customer: public id, user_id, anonymous_id, "
        "email or phone (any digit form).",
        "properties": {key: {"type": "string"} for key in IDENTIFIER_KEYS},
        "minProperties": 1,
        "additionalProperties": {"type": "string"},
    }
)
class CustomerRefField(serializers.Field):
    """Validates an identifier object; the view resolves it (it knows the source)."""

    default_error_messages = {
        # DRF formats these with str.format: literal braces are doubled.
        "invalid": 'Name the customer with an object such as {{"email": "…"}}.',
        "empty": "Give at least one of: " + ", ".join(IDENTIFIER_KEYS) + ".",
    }

    def to_internal_value(self, data: Any) -> dict[str, str]:
        if not isinstance(data, dict):
            self.fail("invalid")
        ref = {
            key: str(value).strip()
            for key, value in data.items()
            if key in IDENTIFIER_KEYS and isinstance(value, str | int) and str(value).strip()
        }
        if not ref:
            self.fail("empty")
        if "id" in ref:
            try:
                uuid.UUID(ref["id"])
            except ValueError:
                raise serializers.ValidationError("'id' must be a customer's public id.") from None
        return ref

    def to_representation(self, value: Any) -> Any:
        return value
