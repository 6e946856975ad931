"""The REST API for storefronts, version 1 (authenticated by a source's API key)."""

from django.urls import path, re_path

from channels.api import verification
from commerce.api import views as commerce
from customers.api import views as customers
from customers.api.errors import not_found

app_name = "api"

urlpatterns = [
    path("customers", customers.CustomerListView.as_view(), name="customers"),
    path("customers/<str:public_id>", customers.CustomerDetailView.as_view(), name="customer"),
    path(
        "customers/<str:public_id>/timeline",
        customers.TimelineView.as_view(),
        name="customer-timeline",
    ),
    path("customers/<str:public_id>/cart", commerce.CartView.as_view(), name="customer-cart"),
    path("customers/<str:public_id>/export", customers.CustomerExportView.as_view(), name="export"),
    path("customers/<str:public_id>/erase", customers.CustomerEraseView.as_view(), name="erase"),
    path("cart-restores", commerce.CartRestoreView.as_view(), name="cart-restores"),
    path("consents", customers.ConsentView.as_view(), name="consents"),
    path("orders", commerce.OrderCreateView.as_view(), name="orders"),
    path("orders/<str:external_id>", commerce.OrderDetailView.as_view(), name="order"),
    path("products/<str:sku>", commerce.ProductView.as_view(), name="product"),
    path("stock-alerts", commerce.StockAlertView.as_view(), name="stock-alerts"),
    path("verifications", verification.VerificationRequestView.as_view(), name="verifications"),
    path("verifications/confirm", verification.VerificationConfirmView.as_view(), name="verify"),
    re_path(r"", not_found),
]
