from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework import serializers

from customers.models import Consent, Customer, Identity, Interaction


class IdentitySerializer(serializers.ModelSerializer):
    class Meta:
        model = Identity
        fields = ["kind", "value", "verified"]


class CustomerSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    identities = IdentitySerializer(many=True, read_only=True)

    class Meta:
        model = Customer
        fields = [
            "id",
            "first_name",
            "last_name",
            "locale",
            "time_zone",
            "stage",
            "traits",
            "identities",
            "first_seen_at",
            "last_seen_at",
            "order_count",
            "total_spent",
            "first_order_at",
            "last_order_at",
        ]
        read_only_fields = [
            "stage",
            "first_seen_at",
            "last_seen_at",
            "order_count",
            "total_spent",
            "first_order_at",
            "last_order_at",
        ]


class CustomerUpdateSerializer(serializers.Serializer):
    first_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    last_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    locale = serializers.ChoiceField(
        choices=[code for code, _ in settings.LANGUAGES], required=False
    )
    time_zone = serializers.CharField(max_length=64, required=False, allow_blank=True)
    traits = serializers.DictField(required=False, help_text="Custom traits, merged in.")

    def validate_time_zone(self, value: str) -> str:
        import zoneinfo

        if value and value not in zoneinfo.available_timezones():
            raise serializers.ValidationError("Unknown time zone.")
        return value

    def validate_traits(self, value: dict[str, Any]) -> dict[str, Any]:
        if len(str(value)) > 16_000:
            raise serializers.ValidationError("Traits may be at most 16 KB.")
        return value


class InteractionSerializer(serializers.ModelSerializer):
    source = serializers.CharField(source="source.name", default=None, read_only=True)

    class Meta:
        model = Interaction
        fields = [
            "id",
            "occurred_at",
            "received_at",
            "channel",
            "type",
            "direction",
            "name",
            "summary",
            "properties",
            "source",
        ]


class ConsentInputSerializer(serializers.Serializer):
    from customers.api.fields import CustomerRefField

    customer = CustomerRefField()
    channel = serializers.ChoiceField(
        choices=["email", "sms", "phone", "whatsapp", "telegram", "all"],
        help_text="Which address the consent is for ('all': customer-wide).",
    )
    address = serializers.CharField(
        max_length=255, required=False, help_text="Which email/phone, when they have several."
    )
    purpose = serializers.ChoiceField(choices=Consent.Purpose.choices)
    status = serializers.ChoiceField(choices=Consent.Status.choices)
    wording = serializers.CharField(max_length=5000, required=False, allow_blank=True)
    proof = serializers.DictField(required=False, help_text="IP, form URL, timestamp, …")


class ConsentSerializer(serializers.ModelSerializer):
    address = serializers.CharField(source="identity.value", default=None, read_only=True)

    class Meta:
        model = Consent
        fields = ["id", "address", "purpose", "status", "wording", "proof", "updated_at"]


class CustomerExportSerializer(serializers.Serializer):
    """The shape of an export document (the view returns the document itself)."""

    format = serializers.CharField()
    exported_at = serializers.DateTimeField()
    customer = serializers.DictField()
    merged_profiles = serializers.ListField(child=serializers.DictField())
    merge_history = serializers.ListField(child=serializers.DictField())
    merge_suggestions = serializers.ListField(child=serializers.DictField())
    identities = serializers.ListField(child=serializers.DictField())
    consents = serializers.ListField(child=serializers.DictField())
    interactions = serializers.ListField(child=serializers.DictField())
    cases = serializers.ListField(child=serializers.DictField())
    messages = serializers.ListField(child=serializers.DictField())
    carts = serializers.ListField(child=serializers.DictField())
    orders = serializers.ListField(child=serializers.DictField())
    stock_alerts = serializers.ListField(child=serializers.DictField())
    journey_enrollments = serializers.ListField(child=serializers.DictField())
    segment_memberships = serializers.ListField(child=serializers.DictField())
    campaign_recipients = serializers.ListField(child=serializers.DictField())
    verification_codes = serializers.ListField(child=serializers.DictField())


class ErasureSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)

    class Meta:
        model = Customer
        fields = ["id", "erased_at"]
