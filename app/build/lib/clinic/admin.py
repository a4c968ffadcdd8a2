from django.contrib import admin

from . import models


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


@admin.register(models.WorkerHeartbeat)
class WorkerHeartbeatAdmin(admin.ModelAdmin):
    list_display = ("queue", "hostname", "source", "seen_at", "count")
