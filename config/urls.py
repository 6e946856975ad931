from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from commerce import storefront
from commerce.views import confirm_alert, restore_cart
from ops import views as ops

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/two-factor/", include("security.urls")),
    path("admin/", admin.site.urls),
    path("ingest/", include("channels.api.urls")),
    path("api/v1/", include("config.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("alerts/confirm/<str:token>/", confirm_alert, name="alert-confirm"),
    path("cart/<str:token>/", restore_cart, name="cart-restore"),
    path("demo/shop/", storefront.shop, name="demo-shop"),
    # Probes and metrics (ops/middleware.py answers them ahead of the other middleware).
    path("healthz", ops.healthz, name="healthz"),
    path("readyz", ops.readyz, name="readyz"),
    path("metrics", ops.metrics_view, name="metrics"),
    path("", include("channels.urls")),
    path("", include("journeys.urls")),
]

# Django's error pages, in JSON for the API, ingest and webhook paths (customers/api/errors.py).
handler400 = "customers.api.errors.bad_request"
handler403 = "customers.api.errors.permission_denied"
handler404 = "customers.api.errors.page_not_found"
handler500 = "customers.api.errors.server_error"
