"""The seed's "In Signals": a new doctor gets a welcome e-mail, however it was made (the API,
the admin, a shell, a data migration), queued once and only once the row is committed."""

from __future__ import annotations

import uuid

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from .models import Doctor, TaskRecord


@receiver(post_save, sender=Doctor, dispatch_uid="clinic.queue_welcome_email")
def queue_welcome_email(sender, instance: Doctor, created: bool, raw: bool, **kwargs) -> None:
    # raw: loaddata writes rows as they were; their e-mails went out where they were made.
    if not created or raw:
        return
    from .tasks import send_welcome_email

    task_id = str(uuid.uuid4())
    TaskRecord.objects.create(task_id=task_id, name=send_welcome_email.name)
    # A worker that picked the task up before COMMIT would not find the row; a rolled-back
    # doctor gets no e-mail at all.
    transaction.on_commit(lambda: send_welcome_email.apply_async((instance.pk,), task_id=task_id))
    instance.welcome_email_task_id = task_id  # the API answers it, for the client to follow
