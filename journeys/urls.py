from django.urls import path

from journeys import views

app_name = "journeys"

urlpatterns = [path("csat/<str:token>/", views.csat, name="csat")]
