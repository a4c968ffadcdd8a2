from django.contrib import admin

from .models import WorkerHeartbeat


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(admin.ModelAdmin):
    list_display = ("queue", "hostname", "source", "seen_at", "count", "active", "concurrency", "stopped_at")
    list_filter = ("source", "queue")
