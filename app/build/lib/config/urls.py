from django.contrib import admin
from django.urls import include, path

from clinic import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", views.healthz, name="healthz"),
    path("api/", include("clinic.urls")),
]
