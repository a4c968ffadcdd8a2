from django.db import models
from django.utils import timezone


class WorkerHeartbeat(models.Model):
    """Last sign of life of a worker on a queue.

    source "probe"/"beat"/...: a worker answered a health_check task (a round trip).
    source "worker": the worker's main process beat on its timer (heartbeat.py);
    only these rows fill pid, concurrency, active, connected and stopped_at, and
    /healthz reads them.
    """

    queue = models.CharField(max_length=100)
    hostname = models.CharField(max_length=255)
    source = models.CharField(max_length=50, default="probe")
    seen_at = models.DateTimeField(default=timezone.now)
    count = models.PositiveIntegerField(default=0)
    pid = models.PositiveIntegerField(null=True, blank=True)
    concurrency = models.PositiveIntegerField(null=True, blank=True, help_text="pool slots")
    active = models.PositiveIntegerField(null=True, blank=True, help_text="tasks running in the pool")
    connected = models.BooleanField(null=True, blank=True, help_text="the consumer holds a broker connection")
    stopped_at = models.DateTimeField(null=True, blank=True, help_text="the worker shut down cleanly")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["queue", "hostname", "source"], name="django_celery_deploy_one_heartbeat")
        ]

    def __str__(self):
        return f"{self.queue} answered by {self.hostname} at {self.seen_at:%Y-%m-%d %H:%M:%S}"
