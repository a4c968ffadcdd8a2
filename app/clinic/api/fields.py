"""Serializer fields as strict as the API always was, each message naming its field.

DRF's own fields coerce: CharField takes 42 as "42", IntegerField takes 1.0 and "1.0",
DateField takes any ISO 8601 form and dates the report tasks cannot compute with. These
subclass them (so the OpenAPI schema types them alike) and validate with input.py's checks.
"""

from __future__ import annotations

from rest_framework import serializers

from .input import MAX_DATE, MIN_DATE, BadRequest, _show, check_text, parse_date, require_int, require_text


class _Named:
    """DRF's messages ("This field is required.") name no field; ours do, as a 400 always has."""

    def bind(self, field_name, parent):
        super().bind(field_name, parent)
        self.error_messages = {
            **self.error_messages,
            "required": f"{field_name} is required",
            "null": f"{field_name} may not be null",
        }


def _checked(check, *args, **kwargs):
    try:
        return check(*args, **kwargs)
    except BadRequest as exc:
        raise serializers.ValidationError(str(exc.detail)) from None


class TextField(_Named, serializers.CharField):
    """A string (never a number turned into one), trimmed, with no NUL or lone surrogate."""

    def __init__(self, **kwargs):
        kwargs.setdefault("trim_whitespace", False)  # require_text trims, after its checks
        super().__init__(**kwargs)

    def run_validation(self, data=serializers.empty):
        if data is serializers.empty or data is None:
            return super().run_validation(data)
        value = _checked(require_text, {self.field_name: data}, self.field_name, self.max_length, not self.allow_blank)
        self.run_validators(value)
        return value


class IdField(_Named, serializers.IntegerField):
    """A positive integer, or a string of ASCII digits (a path segment); never a bool or 1.5."""

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", 2**31 - 1)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        return _checked(require_int, data, self.field_name, self.min_value, self.max_value)


class DayField(_Named, serializers.DateField):
    """A date written YYYY-MM-DD between MIN_DATE and MAX_DATE, kept as that string for the tasks."""

    def __init__(self, **kwargs):
        kwargs.setdefault("help_text", f"YYYY-MM-DD, from {MIN_DATE} to {MAX_DATE}")
        super().__init__(**kwargs)

    def bind(self, field_name, parent):
        super().bind(field_name, parent)
        self.error_messages["required"] = f"{field_name} must be a date as YYYY-MM-DD"

    def to_internal_value(self, data):
        return _checked(parse_date, data, self.field_name)


class NumberField(_Named, serializers.FloatField):
    """A JSON number (never a bool or a numeric string) within [min_value, max_value]."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, (int, float)) or not self.min_value <= data <= self.max_value:
            raise serializers.ValidationError(
                f"{self.field_name} must be a number between {self.min_value} and {self.max_value}"
            )
        return float(data)


class TextChoiceField(_Named, serializers.ChoiceField):
    """One of the choices, as a string: ChoiceField compares str(value), so 1 would pass for "1"."""

    def to_internal_value(self, data):
        if not isinstance(data, str) or data not in self.choices:
            raise serializers.ValidationError(
                f"{self.field_name} must be one of {list(self.choices)}, got {_show(data)}"
            )
        return data


class IdListField(_Named, serializers.ListField):
    """A non-empty list of ids, at most MAX_IDS, each named by its place: claim_ids[3]."""

    MAX_IDS = 1000

    def __init__(self, what: str, **kwargs):
        self.what = what
        super().__init__(child=serializers.IntegerField(min_value=1), min_length=1, max_length=self.MAX_IDS, **kwargs)

    def bind(self, field_name, parent):
        super().bind(field_name, parent)
        self.error_messages["required"] = self.error_messages["null"] = self.shape()

    def shape(self) -> str:
        return f"{self.field_name} must be a non-empty list of {self.what[:-1]} ids"

    def to_internal_value(self, data):
        if not isinstance(data, list) or not data:
            raise serializers.ValidationError(self.shape())
        if len(data) > self.MAX_IDS:
            raise serializers.ValidationError(f"at most {self.MAX_IDS} {self.what} per request, got {len(data)}")
        return [_checked(require_int, value, f"{self.field_name}[{index}]") for index, value in enumerate(data)]


class ObjectField(_Named, serializers.PrimaryKeyRelatedField):
    """A foreign key given as its id, checked as an id before any query."""

    def to_internal_value(self, data):
        pk = _checked(require_int, data, self.field_name, 1, 2**63 - 1)
        try:
            return self.get_queryset().get(pk=pk)
        except self.get_queryset().model.DoesNotExist:
            raise serializers.ValidationError(
                f"{self.field_name}: {self.get_queryset().model._meta.verbose_name} {pk} does not exist"
            ) from None


def text_of(value: str, where: str) -> str:
    """check_text for a path segment or another value no field reads."""
    return _checked(check_text, value, where)
