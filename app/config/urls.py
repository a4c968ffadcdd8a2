from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("django_celery_deploy.urls")),  # /healthz
    path("api/", include("clinic.api.urls")),
]
