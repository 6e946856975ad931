"""REST API for storefronts: customers, their timeline, consents."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView, ListAPIView
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from customers import consents, selectors, services
from customers.api.auth import SourceKeyAuthentication, SourceRateThrottle, scoped
from customers.api.errors import ApiError
from customers.api.fields import customer_by_public_id, find_or_create
from customers.api.serializers import (
    ConsentInputSerializer,
    ConsentSerializer,
    CustomerExportSerializer,
    CustomerSerializer,
    CustomerUpdateSerializer,
    ErasureSerializer,
    InteractionSerializer,
)
from customers.models import ApiKey, ChannelKind, Customer, Identity, Interaction

LOOKUPS = ("email", "phone", "user_id", "anonymous_id")


class SourceAPIView(GenericAPIView):
    """Authenticated by a source key; ``read`` for safe methods, ``write`` for the rest."""

    authentication_classes = [SourceKeyAuthentication]
    throttle_classes = [SourceRateThrottle]

    def get_permissions(self):  # type: ignore[no-untyped-def]
        scope = "read" if self.request.method in ("GET", "HEAD", "OPTIONS") else "write"
        return [scoped(scope)()]

    @property
    def source(self):  # type: ignore[no-untyped-def]
        return self.request.auth.source

    def customer_or_404(self, public_id: str) -> Customer:
        customer = customer_by_public_id(public_id)
        if customer is None:
            raise ApiError("customer_not_found", "No customer has this id.", status_code=404)
        return customer


def with_identities(queryset: QuerySet[Customer]) -> QuerySet[Customer]:
    return queryset.prefetch_related(
        Prefetch("identities", queryset=Identity.objects.exclude(kind="anonymous_id"))
    )


class CustomerPagination(CursorPagination):
    ordering = "-created_at"
    page_size = 50


class CustomerListView(ListAPIView, SourceAPIView):
    serializer_class = CustomerSerializer
    pagination_class = CustomerPagination

    @extend_schema(
        parameters=[OpenApiParameter(name, str, description=f"Find by {name}") for name in LOOKUPS],
        tags=["customers"],
    )
    def get(self, request: Request, *args: object, **kwargs: object) -> Response:
        """Live customers, newest first; with a lookup parameter, the one customer it names."""
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Customer]:
        params = self.request.query_params
        lookups = {k: params[k] for k in LOOKUPS if params.get(k)}
        customers = Customer.objects.live()
        if lookups:
            found = services.find_customer(lookups)
            customers = customers.filter(pk=found.pk) if found else customers.none()
        return with_identities(customers)


def with_identities_list(rows: list[Customer]) -> list[Customer]:
    return list(with_identities(Customer.objects.filter(pk__in=[c.pk for c in rows])))


class CustomerDetailView(SourceAPIView):
    serializer_class = CustomerSerializer

    @extend_schema(tags=["customers"])
    def get(self, request: Request, public_id: str) -> Response:
        """One customer; a merged customer's old id answers with the survivor."""
        customer = self.customer_or_404(public_id)
        return Response(CustomerSerializer(with_identities_list([customer])[0]).data)

    @extend_schema(request=CustomerUpdateSerializer, tags=["customers"])
    def patch(self, request: Request, public_id: str) -> Response:
        """Update names, locale, time zone; custom traits are merged in."""
        customer = self.customer_or_404(public_id)
        if customer.is_erased:
            raise ApiError(
                "customer_erased",
                "This customer was erased; nothing is stored on it.",
                status_code=422,
            )
        form = CustomerUpdateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = dict(form.validated_data)
        traits = {**data.pop("traits", {})}
        services.update_profile(customer, fields=data, traits=traits)
        return Response(CustomerSerializer(with_identities_list([customer])[0]).data)


class TimelineView(SourceAPIView):
    serializer_class = InteractionSerializer

    @extend_schema(
        parameters=[
            OpenApiParameter("channel", str, enum=ChannelKind.values),
            OpenApiParameter("type", str, enum=Interaction.Type.values),
            OpenApiParameter("cursor", str, description="'next' of the previous page"),
        ],
        responses=inline_serializer(
            "TimelinePage",
            {
                "next": serializers.CharField(allow_null=True),
                "results": InteractionSerializer(many=True),
            },
        ),
        tags=["customers"],
    )
    def get(self, request: Request, public_id: str) -> Response:
        """The customer's timeline, newest first, 50 a page by keyset cursor."""
        customer = self.customer_or_404(public_id)
        channel = request.query_params.get("channel") or None
        type_ = request.query_params.get("type") or None
        if channel and channel not in ChannelKind.values:
            raise ApiError("invalid_channel", f"Unknown channel {channel!r}.")
        if type_ and type_ not in Interaction.Type.values:
            raise ApiError("invalid_type", f"Unknown type {type_!r}.")
        token = request.query_params.get("cursor")
        cursor = selectors.TimelineCursor.decode(token)
        if token and cursor is None:
            raise ApiError("invalid_cursor", "The cursor is not one this API gave out.")
        page = selectors.timeline(
            customer, before=cursor, channel=channel, types=[type_] if type_ else None
        )
        return Response(
            {
                "next": page.next_cursor.encode() if page.next_cursor else None,
                "results": InteractionSerializer(page.items, many=True).data,
            }
        )


class ConsentView(APIView):
    authentication_classes = [SourceKeyAuthentication]
    throttle_classes = [SourceRateThrottle]
    permission_classes = [scoped("write")]

    @extend_schema(
        request=ConsentInputSerializer, responses={201: ConsentSerializer}, tags=["consents"]
    )
    def post(self, request: Request) -> Response:
        """Record a consent (granted / pending / withdrawn) for a channel and purpose."""
        form = ConsentInputSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        source = request.auth.source
        customer = find_or_create(data["customer"], source=source, create=False)
        if customer is None:
            raise ApiError(
                "customer_not_found", "No customer has that identifier.", status_code=404
            )
        consent = consents.set_consent(
            customer,
            channel=data["channel"],
            purpose=data["purpose"],
            status=data["status"],
            address=data.get("address"),
            source=source,
            wording=data.get("wording", ""),
            proof=data.get("proof") or {},
        )
        return Response(ConsentSerializer(consent).data, status=status.HTTP_201_CREATED)


class PrivacyAPIView(SourceAPIView):
    """Data rights: only a key with the ``privacy`` scope, whatever the method (read and write
    keys get 403); every call is audited under the key's prefix."""

    def get_permissions(self):  # type: ignore[no-untyped-def]
        return [scoped(ApiKey.Scope.PRIVACY)()]

    def audit_label(self) -> str:
        return f"API key {self.request.auth.prefix}…"


class CustomerExportView(PrivacyAPIView):
    serializer_class = CustomerExportSerializer

    @extend_schema(responses=CustomerExportSerializer, tags=["data rights"])
    def get(self, request: Request, public_id: str) -> Response:
        """Everything held about the customer, as one JSON document (a merged customer's old
        id exports the survivor, with every profile merged into it). Audited."""
        customer = self.customer_or_404(public_id)
        document = services.export_customer(
            customer, via="api", request=request, actor_label=self.audit_label()
        )
        return Response(document)


class CustomerEraseView(PrivacyAPIView):
    serializer_class = ErasureSerializer

    @extend_schema(request=None, responses=ErasureSerializer, tags=["data rights"])
    def post(self, request: Request, public_id: str) -> Response:
        """Erase the customer: identities deleted (and never stored again), names, traits and
        free text cleared; rows, counts and order amounts stay. Irreversible; audited."""
        customer = self.customer_or_404(public_id)
        erased = services.erase_customer(
            customer, via="api", request=request, actor_label=self.audit_label()
        )
        return Response(ErasureSerializer(erased).data)
