"""What the API reads and writes. Every serializer refuses a field it does not know: a misspelt
optional field would otherwise fall back to its default without a word."""

from __future__ import annotations

from datetime import UTC, datetime

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from rest_framework import serializers

from ..domain import ReportInvalid, parse_lab_values
from ..models import Appointment, Claim, Doctor, MedicalReport, Patient
from .fields import DayField, IdField, IdListField, NumberField, ObjectField, TextChoiceField, TextField
from .input import _show

# scheduled_at: the reminder and expiry tasks add hours and days to it; the ends of
# datetime's own range would overflow there.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2999, 12, 31, tzinfo=UTC)


class StrictSerializer(serializers.Serializer):
    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError({"non_field_errors": ["request body must be a JSON object"]})
        writable = [name for name, field in self.fields.items() if not field.read_only]
        unknown = [key for key in data if key not in writable]
        if unknown:
            raise serializers.ValidationError(
                {"non_field_errors": [f"unknown field {_show(unknown[0])}; the fields are {writable}"]}
            )
        return super().to_internal_value(data)


class StrictModelSerializer(StrictSerializer, serializers.ModelSerializer):
    pass


def _email(value: str, field: str = "email") -> str:
    # Lower-cased before the length check: "İ" becomes two characters.
    email = value.lower()
    if len(email) > 254:
        raise serializers.ValidationError(f"{field} is longer than 254 characters")
    try:
        validate_email(email)
    except DjangoValidationError:
        raise serializers.ValidationError(f"{field} {email!r} is not a valid address") from None
    return email


# --- Doctors and patients ---------------------------------------------------------------


class DoctorSerializer(StrictModelSerializer):
    name = TextField(max_length=200)
    email = TextField(max_length=254)
    specialty = TextField(max_length=100, required=False, allow_blank=True)
    welcome_email_task_id = serializers.CharField(read_only=True, required=False)

    class Meta:
        model = Doctor
        fields = ["id", "name", "email", "specialty", "created_at", "welcome_email_sent_at", "welcome_email_task_id"]
        read_only_fields = ["created_at", "welcome_email_sent_at"]

    def validate_email(self, value):
        return _email(value)


class PatientSerializer(StrictModelSerializer):
    name = TextField(max_length=200)
    email = TextField(max_length=254, required=False, allow_blank=True)
    phone = TextField(max_length=40, required=False, allow_blank=True)
    date_of_birth = DayField(required=False, allow_null=True)

    class Meta:
        model = Patient
        fields = ["id", "name", "email", "phone", "date_of_birth", "created_at"]
        read_only_fields = ["created_at"]

    def validate_email(self, value):
        return _email(value) if value else value


# --- Appointments -------------------------------------------------------------------------


class AppointmentSerializer(StrictModelSerializer):
    doctor = ObjectField(queryset=Doctor.objects.all())
    patient = ObjectField(queryset=Patient.objects.all())
    reason = TextField(max_length=200, required=False, allow_blank=True)

    class Meta:
        model = Appointment
        fields = ["id", "doctor", "patient", "scheduled_at", "status", "reason", "reminder_sent_at", "updated_at"]
        read_only_fields = ["status", "reminder_sent_at", "updated_at"]
        extra_kwargs = {"scheduled_at": {"error_messages": {"invalid": "scheduled_at must be an ISO 8601 date-time"}}}

    def validate_scheduled_at(self, value):
        if not EARLIEST <= value <= LATEST:
            raise serializers.ValidationError(f"scheduled_at must be between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d}")
        return value


class ReminderGroupSerializer(StrictSerializer):
    appointment_ids = IdListField(what="appointments")

    def validate_appointment_ids(self, ids):
        found = set(Appointment.objects.filter(pk__in=ids).values_list("pk", flat=True))
        missing = [pk for pk in ids if pk not in found]
        if missing:
            raise serializers.ValidationError(f"appointment_ids: appointment {missing[0]} does not exist")
        return ids


# --- Medical reports and claims -------------------------------------------------------------


class MedicalReportSerializer(StrictModelSerializer):
    patient = ObjectField(queryset=Patient.objects.all())
    doctor = ObjectField(queryset=Doctor.objects.all(), required=False, allow_null=True)
    title = TextField(max_length=200)
    # The lab values, as JSON text (process_medical_report reads them). The model's
    # source_path is a file on the worker: not a thing a client may name.
    content = TextField(max_length=100_000, required=False, allow_blank=True)

    class Meta:
        model = MedicalReport
        fields = ["id", "patient", "doctor", "title", "content", "status", "summary", "error", "created_at"]
        read_only_fields = ["status", "summary", "error", "created_at"]

    def validate_content(self, value: str) -> str:
        # The rule the processing task applies (domain.parse_lab_values): content it would fail
        # on is a 400 now, not a report that fails later.
        if value:
            try:
                parse_lab_values(value)
            except ReportInvalid as exc:
                raise serializers.ValidationError(str(exc)) from None
        return value


class ClaimSerializer(StrictModelSerializer):
    patient = ObjectField(queryset=Patient.objects.all())
    appointment = ObjectField(queryset=Appointment.objects.all(), required=False, allow_null=True)
    description = TextField(max_length=200, required=False, allow_blank=True)

    class Meta:
        model = Claim
        fields = ["id", "patient", "appointment", "amount", "description", "status", "decision_reason"]
        fields += ["submitted_at", "processed_at"]
        read_only_fields = ["status", "decision_reason", "submitted_at", "processed_at"]
        extra_kwargs = {"amount": {"min_value": 0}}

    def validate(self, attrs: dict) -> dict:
        appointment, patient = attrs.get("appointment"), attrs.get("patient")
        if appointment is not None and patient is not None and appointment.patient_id != patient.pk:
            message = f"appointment {appointment.pk} belongs to patient {appointment.patient_id}, not {patient.pk}"
            raise serializers.ValidationError({"appointment": message})
        return attrs


class BulkClaimsSerializer(StrictSerializer):
    claim_ids = IdListField(what="claims")


# --- Tasks ------------------------------------------------------------------------------------


class ReportRequestSerializer(StrictSerializer):
    kind = TextChoiceField(choices=["daily", "weekly"], default="daily")
    date = DayField(required=False, allow_null=True)


class StatisticsRequestSerializer(StrictSerializer):
    date = DayField()


class LongRunningSerializer(StrictSerializer):
    total = IdField(default=10, max_value=1000)
    step_seconds = NumberField(default=1.0, min_value=0, max_value=10)

    def validate(self, attrs):
        # A job its soft time limit would stop is refused here, not failed in the worker. The
        # app's own limit: a queue's worker may have a longer one (reports: 1800 s deployed).
        seconds = attrs["total"] * attrs["step_seconds"]
        limit = settings.CELERY_TASK_SOFT_TIME_LIMIT
        if seconds >= limit:
            raise serializers.ValidationError(
                f"total x step_seconds would run {seconds:g} s, past the {limit} s soft time limit"
                " (CELERY_TASK_SOFT_TIME_LIMIT)"
            )
        return attrs


class AcceptedSerializer(serializers.Serializer):
    """The answer to anything that queues work: 202 and where to follow it."""

    task_id = serializers.CharField()
    task = serializers.CharField()
    status_url = serializers.CharField()


class TaskStatusSerializer(serializers.Serializer):
    task_id = serializers.CharField()
    task = serializers.CharField()
    state = serializers.CharField()
    ready = serializers.BooleanField()
    result = serializers.JSONField(required=False)
    error = serializers.CharField(required=False)
    progress = serializers.JSONField(required=False)
    worker = serializers.CharField(required=False)


class TaskProgressSerializer(serializers.Serializer):
    task_id = serializers.CharField()
    state = serializers.CharField()
    current = serializers.IntegerField()
    total = serializers.IntegerField(allow_null=True)
    percent = serializers.FloatField()
