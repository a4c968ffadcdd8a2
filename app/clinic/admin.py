from celery.backends.redis import RedisBackend
from django.contrib import admin, messages
from django_celery_results import admin as results_admin
from django_celery_results.backends.database import DatabaseBackend
from django_celery_results.models import GroupResult, TaskResult

from config.celery import app

from . import models


def results_elsewhere_note() -> str | None:
    """Why django-celery-results' pages are empty, when results are not stored in the database."""
    backend = app.backend
    if isinstance(backend, DatabaseBackend):
        return None
    where = "Redis" if isinstance(backend, RedisBackend) else type(backend).__name__
    return (
        f"Results are stored in {where}, not in the database, and this page lists only the database's: "
        "it stays empty (with a Redis broker, Redis is the result backend too; CELERY_RESULT_BACKEND overrides). "
        "Look a task up with GET /api/tasks/<id>, or in Flower."
    )


class ResultsElsewhereNoteMixin:
    def changelist_view(self, request, extra_context=None):
        note = results_elsewhere_note()
        if note:
            self.message_user(request, note, level=messages.WARNING)
        return super().changelist_view(request, extra_context)


class TaskResultAdmin(ResultsElsewhereNoteMixin, results_admin.TaskResultAdmin):
    pass


class GroupResultAdmin(ResultsElsewhereNoteMixin, results_admin.GroupResultAdmin):
    pass


admin.site.unregister([TaskResult, GroupResult])  # registered by django_celery_results.admin, imported above
admin.site.register(TaskResult, TaskResultAdmin)
admin.site.register(GroupResult, GroupResultAdmin)


@admin.register(models.Doctor)
class DoctorAdmin(admin.ModelAdmin):
    list_display = ("name", "email", "specialty", "welcome_email_sent_at")
    search_fields = ("name", "email")


@admin.register(models.Patient)
class PatientAdmin(admin.ModelAdmin):
    list_display = ("name", "email", "phone", "date_of_birth")
    search_fields = ("name", "email")


@admin.register(models.Appointment)
class AppointmentAdmin(admin.ModelAdmin):
    list_display = ("patient", "doctor", "scheduled_at", "status", "reminder_sent_at", "reminder_attempts")
    list_filter = ("status",)


@admin.register(models.Claim)
class ClaimAdmin(admin.ModelAdmin):
    list_display = ("id", "patient", "amount", "status", "processed_at")
    list_filter = ("status",)


@admin.register(models.MedicalReport)
class MedicalReportAdmin(admin.ModelAdmin):
    list_display = ("title", "patient", "status", "attempts", "completed_at")
    list_filter = ("status",)


@admin.register(models.GeneratedReport)
class GeneratedReportAdmin(admin.ModelAdmin):
    list_display = ("kind", "period_start", "period_end", "generated_at")
    list_filter = ("kind",)
