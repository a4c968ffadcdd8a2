"""The package's one task: a round trip through a queue, sent by the probe and by beat."""

from __future__ import annotations

from celery import shared_task
from django.db.models import F
from django.utils import timezone

from .models import WorkerHeartbeat

HEALTH_CHECK = "django_celery_deploy.health_check"


@shared_task(bind=True, name=HEALTH_CHECK)
def health_check(self, source: str = "probe") -> dict:
    """Proves a worker consumes the queue it came through and reaches the database."""
    queue = (self.request.delivery_info or {}).get("routing_key") or "unknown"
    hostname = self.request.hostname or "unknown"
    now = timezone.now()
    row, created = WorkerHeartbeat.objects.get_or_create(
        queue=queue, hostname=hostname, source=source, defaults={"seen_at": now, "count": 1}
    )
    if not created:
        WorkerHeartbeat.objects.filter(pk=row.pk).update(seen_at=now, count=F("count") + 1)
    return {"queue": queue, "hostname": hostname, "at": now.isoformat()}
