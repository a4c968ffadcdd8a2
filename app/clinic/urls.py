from django.urls import path, re_path

from . import views

urlpatterns = [
    path("doctors", views.create_doctor, name="create-doctor"),
    path("reports", views.generate_report, name="generate-report"),
    path("medical-reports/<str:report_id>/process", views.process_report, name="process-report"),
    path("workflows/doctor-statistics", views.doctor_statistics, name="doctor-statistics"),
    path("claims/bulk", views.bulk_claims, name="bulk-claims"),
    path("tasks/long-running", views.start_long_running, name="long-running"),
    path("tasks/<str:task_id>", views.task_status, name="task-status"),
    path("tasks/<str:task_id>/progress", views.task_progress, name="task-progress"),
    path("queues/<str:queue>/ping", views.ping_queue, name="ping-queue"),
    re_path(r"^(?P<rest>.*)$", views.not_found),  # last: every other /api/ path
]
