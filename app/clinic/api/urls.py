from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.permissions import AllowAny

from . import views

urlpatterns = [
    # The OpenAPI schema and its browsable docs: open to read (throttled), like any API's docs.
    path("schema", SpectacularAPIView.as_view(permission_classes=[AllowAny]), name="schema"),
    path("docs", SpectacularSwaggerView.as_view(url_name="schema", permission_classes=[AllowAny]), name="docs"),
    path("doctors", views.DoctorList.as_view(), name="doctors"),
    path("doctors/<int:pk>", views.DoctorDetail.as_view(), name="doctor"),
    path("patients", views.PatientList.as_view(), name="patients"),
    path("patients/<int:pk>", views.PatientDetail.as_view(), name="patient"),
    path("appointments", views.AppointmentList.as_view(), name="appointments"),
    path("appointments/reminders", views.Reminders.as_view(), name="appointment-reminders"),
    path("appointments/<int:pk>", views.AppointmentDetail.as_view(), name="appointment"),
    path("medical-reports", views.MedicalReportList.as_view(), name="medical-reports"),
    path("medical-reports/<str:report_id>/process", views.ProcessReport.as_view(), name="process-report"),
    path("medical-reports/<int:pk>", views.MedicalReportDetail.as_view(), name="medical-report"),
    path("claims", views.ClaimList.as_view(), name="claims"),
    path("claims/bulk", views.BulkClaims.as_view(), name="bulk-claims"),
    path("claims/<int:pk>", views.ClaimDetail.as_view(), name="claim"),
    path("reports", views.GenerateReport.as_view(), name="generate-report"),
    path("workflows/doctor-statistics", views.DoctorStatistics.as_view(), name="doctor-statistics"),
    path("tasks/long-running", views.LongRunning.as_view(), name="long-running"),
    path("tasks/<str:task_id>", views.TaskStatus.as_view(), name="task-status"),
    path("tasks/<str:task_id>/progress", views.TaskProgress.as_view(), name="task-progress"),
    path("queues/<str:queue>/ping", views.PingQueue.as_view(), name="ping-queue"),
    # [\s\S]: "." stops at a newline, and /api/doctors/%0A would get Django's HTML 404.
    re_path(r"^(?P<rest>[\s\S]*)$", views.not_found),  # last: every other /api/ path
]
