from django.db import models
from django.utils import timezone


class Doctor(models.Model):
    name = models.CharField(max_length=200)
    email = models.EmailField(unique=True)
    specialty = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Set by send_welcome_email; makes the task idempotent (acks_late may run it twice).
    welcome_email_sent_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"Dr. {self.name}"


class Patient(models.Model):
    name = models.CharField(max_length=200)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=40, blank=True)
    date_of_birth = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return self.name


class Appointment(models.Model):
    class Status(models.TextChoices):
        SCHEDULED = "scheduled"
        COMPLETED = "completed"
        CANCELLED = "cancelled"
        EXPIRED = "expired"

    doctor = models.ForeignKey(Doctor, on_delete=models.CASCADE, related_name="appointments")
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="appointments")
    scheduled_at = models.DateTimeField(db_index=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.SCHEDULED, db_index=True)
    reason = models.CharField(max_length=200, blank=True)
    reminder_sent_at = models.DateTimeField(null=True, blank=True)
    reminder_attempts = models.PositiveIntegerField(default=0)
    reminder_error = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"{self.patient} with {self.doctor} at {self.scheduled_at:%Y-%m-%d %H:%M}"


class Claim(models.Model):
    class Status(models.TextChoices):
        SUBMITTED = "submitted"
        APPROVED = "approved"
        REJECTED = "rejected"

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="claims")
    appointment = models.ForeignKey(Appointment, on_delete=models.SET_NULL, null=True, blank=True)
    amount = models.DecimalField(max_digits=10, decimal_places=2)
    description = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.SUBMITTED, db_index=True)
    decision_reason = models.CharField(max_length=200, blank=True)
    submitted_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"Claim {self.pk} ({self.status}) {self.amount}"


class MedicalReport(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        PROCESSING = "processing"
        COMPLETED = "completed"
        FAILED = "failed"

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="reports")
    doctor = models.ForeignKey(Doctor, on_delete=models.SET_NULL, null=True, blank=True, related_name="reports")
    title = models.CharField(max_length=200)
    # Lab values as JSON text, either inline or in a file the lab uploads later.
    content = models.TextField(blank=True)
    source_path = models.CharField(max_length=500, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    summary = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)
    # When the doctor was told the report is ready: a redelivered notification sends nothing.
    doctor_notified_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"{self.title} ({self.status})"


class GeneratedReport(models.Model):
    """Aggregates produced by the daily/weekly report tasks (one per kind and period)."""

    class Kind(models.TextChoices):
        DAILY = "daily"
        WEEKLY = "weekly"
        DOCTORS = "doctors"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    period_start = models.DateField()
    period_end = models.DateField()
    data = models.JSONField()
    generated_at = models.DateTimeField(default=timezone.now)
    # When the weekly report went to the admins: a redelivered e-mail task sends nothing more.
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "period_start"], name="one_report_per_period")]

    def __str__(self):
        return f"{self.kind} report {self.period_start}..{self.period_end}"


class TaskRecord(models.Model):
    """Every task id the API handed out, so an unknown id can be refused."""

    task_id = models.CharField(max_length=255, unique=True)
    name = models.CharField(max_length=255)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"{self.name}[{self.task_id}]"


class ProgressRun(models.Model):
    """A long_running_task run: its steps are recorded so a re-run resumes."""

    task_id = models.CharField(max_length=255, unique=True)
    total = models.PositiveIntegerField()
    done = models.PositiveIntegerField(default=0)
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"{self.task_id}: {self.done}/{self.total}"


class TaskExecution(models.Model):
    """One row per run of the drill task, written by the task itself.

    Drills count every id they enqueue against these rows: an id with no finished
    row was lost, an id with two rows ran twice (`manage.py drill report`).
    """

    task_id = models.CharField(max_length=255, db_index=True)
    hostname = models.CharField(max_length=255)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"{self.task_id}@{self.hostname}"
