from django.urls import path, re_path

from channels import tracking
from channels.api.views import BatchView, TrackingView
from customers.api.errors import not_found

app_name = "ingest"

urlpatterns = [
    path("v1/batch", BatchView.as_view(), name="batch"),
    *[
        path(f"v1/{kind}", TrackingView.as_view(message_type=kind), name=kind)
        for kind in tracking.MESSAGE_TYPES
    ],
    re_path(r"", not_found),
]
