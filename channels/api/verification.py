"""REST API: verify a customer's email or phone with a one-time code (channels.verification)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from channels import verification
from customers.api.auth import SourceKeyAuthentication, SourceRateThrottle, scoped
from customers.api.errors import ApiError
from customers.api.fields import customer_by_public_id
from customers.models import Customer
from security.models import VerificationCode

_CONFLICT = OpenApiResponse(
    inline_serializer(
        "VerificationConflict",
        {"code": serializers.CharField(), "message": serializers.CharField()},
    ),
    description="identity_conflict: the address belongs to a profile with another account id.",
)


class VerificationRequestSerializer(serializers.Serializer):
    customer = serializers.UUIDField(help_text="The customer's public id (who asks).")
    kind = serializers.ChoiceField(choices=VerificationCode.Kind.choices)
    value = serializers.CharField(
        max_length=255, help_text="The email or phone (any digit form) to prove."
    )


class VerificationConfirmSerializer(VerificationRequestSerializer):
    code = serializers.CharField(max_length=20, help_text="The code the message carried.")


class VerificationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    expires_at = serializers.DateTimeField()


class VerifiedSerializer(serializers.Serializer):
    verified = serializers.BooleanField()
    customer = serializers.UUIDField(help_text="The surviving customer's public id.")


class _VerificationView(APIView):
    authentication_classes = [SourceKeyAuthentication]
    throttle_classes = [SourceRateThrottle]
    permission_classes = [scoped("write")]
    input_class: type[serializers.Serializer] = VerificationRequestSerializer

    def read(self, request: Request) -> tuple[Customer, dict, str]:
        form = self.input_class(data=request.data)
        form.is_valid(raise_exception=True)
        customer = customer_by_public_id(form.validated_data["customer"])
        if customer is None:
            raise ApiError("customer_not_found", "No customer has this id.", status_code=404)
        return customer, form.validated_data, f"API key {request.auth.prefix}…"


class VerificationRequestView(_VerificationView):
    @extend_schema(
        request=VerificationRequestSerializer,
        responses={202: VerificationSerializer},
        tags=["verifications"],
    )
    def post(self, request: Request) -> Response:
        """Send a one-time code to this address only; answers 429 with Retry-After when
        asked too often (3 per 10 minutes, 10 a day, per address and per customer)."""
        customer, data, actor = self.read(request)
        try:
            code = verification.request_code(
                customer,
                data["kind"],
                data["value"],
                source=request.auth.source,
                requested_by=actor,
            )
        except verification.RateLimited as error:
            return Response(
                {"code": error.code, "message": error.message},
                status=status.HTTP_429_TOO_MANY_REQUESTS,
                headers={"Retry-After": str(error.retry_after)},
            )
        return Response(
            VerificationSerializer({"id": code.pk, "expires_at": code.expires_at}).data,
            status=status.HTTP_202_ACCEPTED,
        )


class VerificationConfirmView(_VerificationView):
    input_class = VerificationConfirmSerializer

    @extend_schema(
        request=VerificationConfirmSerializer,
        responses={200: VerifiedSerializer, 409: _CONFLICT},
        tags=["verifications"],
    )
    def post(self, request: Request) -> Response:
        """Check the code; on success the address is the customer's, verified (a profile that
        held it is merged in, the oldest surviving)."""
        customer, data, actor = self.read(request)
        survivor = verification.confirm_code(
            customer,
            data["kind"],
            data["value"],
            data["code"],
            source=request.auth.source,
            requested_by=actor,
        )
        return Response(VerifiedSerializer({"verified": True, "customer": survivor.public_id}).data)
