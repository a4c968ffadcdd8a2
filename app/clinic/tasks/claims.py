"""Claims, decided in bulk by the auto-approval rule (clinic.domain.decide_claim)."""

from __future__ import annotations

from decimal import Decimal

from celery import shared_task
from celery.utils.log import get_task_logger
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ..domain import decide_claim
from ..models import Claim

logger = get_task_logger(__name__)


@shared_task(name="clinic.tasks.process_bulk_claims")
def process_bulk_claims(claim_ids: list[int]) -> dict:
    limit = Decimal(str(settings.CLAIM_AUTO_APPROVE_LIMIT))
    outcome = {"approved": 0, "rejected": 0, "skipped": 0, "missing": []}
    for claim_id in claim_ids:
        with transaction.atomic():
            claim = Claim.objects.select_for_update().filter(pk=claim_id).first()
            if claim is None:
                outcome["missing"].append(claim_id)
                continue
            if claim.status != Claim.Status.SUBMITTED:
                outcome["skipped"] += 1  # already decided: a redelivery changes nothing
                continue
            claim.status, claim.decision_reason = decide_claim(claim.amount, limit)
            claim.processed_at = timezone.now()
            claim.save(update_fields=["status", "decision_reason", "processed_at"])
            outcome["approved" if claim.status == Claim.Status.APPROVED else "rejected"] += 1
    logger.info(
        "bulk claims: %d approved, %d rejected, %d already decided, %d missing",
        outcome["approved"],
        outcome["rejected"],
        outcome["skipped"],
        len(outcome["missing"]),
    )
    return outcome
