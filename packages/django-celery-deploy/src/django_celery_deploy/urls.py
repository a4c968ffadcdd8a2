"""``path("", include("django_celery_deploy.urls"))`` in the project's urls.py serves /healthz."""

from django.urls import path

from .health import healthz

urlpatterns = [path("healthz", healthz, name="healthz")]
