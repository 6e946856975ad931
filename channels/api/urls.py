from django.urls import path

from channels import tracking
from channels.api.views import BatchView, TrackingView

app_name = "ingest"

urlpatterns = [
    path("v1/batch", BatchView.as_view(), name="batch"),
    *[
        path(f"v1/{kind}", TrackingView.as_view(message_type=kind), name=kind)
        for kind in tracking.MESSAGE_TYPES
    ],
]
