"""The admin's task and group results pages read the database: they say so when results go elsewhere."""

from __future__ import annotations

import secrets

import pytest
from celery.backends.redis import RedisBackend
from django.conf import settings
from django.test import Client, override_settings
from django_celery_deploy.results import FinalStateDatabaseBackend

from config.celery import app

PAGES = ("/admin/django_celery_results/taskresult/", "/admin/django_celery_results/groupresult/")
EXPLANATION = "Results are stored in Redis, not in the database"


@pytest.fixture(scope="module")
def admin_client():
    from django.contrib.auth.models import User

    user = User.objects.create_superuser(f"admin-{secrets.token_hex(4)}", password=secrets.token_urlsafe(16))
    client = Client()
    client.force_login(user)
    # No collectstatic here: plain static URLs instead of the manifest's.
    plain = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    storages = {**settings.STORAGES, "staticfiles": plain}
    with override_settings(STORAGES=storages):
        yield client
    user.delete()


@pytest.fixture
def result_backend(monkeypatch):
    """Make this thread's Celery app use a given result backend, whatever broker the suite runs on."""

    def use(backend_class, url=None):
        monkeypatch.setattr(app._local, "backend", backend_class(app=app, url=url), raising=False)

    return use


@pytest.mark.parametrize("page", PAGES)
def test_the_admins_results_page_explains_it_stays_empty_when_the_result_backend_is_redis(
    admin_client, result_backend, page
):
    result_backend(RedisBackend, "redis://127.0.0.1:9/0")  # never connected: the page only names it
    response = admin_client.get(page)
    assert response.status_code == 200
    text = response.content.decode()
    assert EXPLANATION in text
    assert "GET /api/tasks/&lt;id&gt;" in text


@pytest.mark.parametrize("page", PAGES)
def test_the_admins_results_page_has_no_such_note_when_results_are_in_the_database(admin_client, result_backend, page):
    result_backend(FinalStateDatabaseBackend)
    response = admin_client.get(page)
    assert response.status_code == 200
    assert "not in the database" not in response.content.decode()


def test_the_admins_task_results_page_explains_itself_exactly_when_this_broker_keeps_results_in_redis(
    admin_client, broker
):
    text = admin_client.get(PAGES[0]).content.decode()
    assert (EXPLANATION in text) == (broker == "redis")
