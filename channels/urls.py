"""Public pages of outbound messaging (unsubscribe, preference center, open and click tracking)
and the provider webhooks. Included at the site root."""

from django.urls import path

from channels import hooks, pages

app_name = "channels"

urlpatterns = [
    path("u/<str:token>/", pages.unsubscribe, name="unsubscribe"),
    path("preferences/<str:token>/", pages.preferences, name="preferences"),
    path("t/o/<str:token>/", pages.opened, name="open"),
    path("t/c/<str:token>/", pages.clicked, name="click"),
    path("hooks/<int:channel_id>/status", hooks.status, name="hook-status"),
    path("hooks/<int:channel_id>/inbound", hooks.inbound, name="hook-inbound"),
]
