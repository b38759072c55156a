from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max, Min, Q, Sum
from django.utils import timezone

from customers.changes import Actor, changelog_record
from customers.models import Customer

from .models import MANUAL_STATUSES, Agreement, AgreementStatus, AmountPeriod, Interval, SkippedAgreement

CENT = Decimal("0.01")


def add_interval(start: dt.date, value: int, unit: str, *, sign: int = 1) -> dt.date:
    """`start` moved by value x unit; months and years keep the day, clamped to the month's end
    (Jan 31 + 1 month = Feb 28/29)."""
    if unit == Interval.DAY:
        return start + dt.timedelta(days=sign * value)
    if unit == Interval.WEEK:
        return start + dt.timedelta(weeks=sign * value)
    months = value * (12 if unit == Interval.YEAR else 1)
    if unit not in (Interval.MONTH, Interval.YEAR):
        raise ValueError(f"Unknown interval {unit!r}")
    index = start.year * 12 + (start.month - 1) + sign * months
    year, month = divmod(index, 12)
    day = min(start.day, calendar.monthrange(year, month + 1)[1])
    return dt.date(year, month + 1, day)


def mrr_from_amount(amount: Decimal, period: str) -> Decimal:
    monthly = amount / 12 if period == AmountPeriod.ARR else amount
    return monthly.quantize(CENT, rounding=ROUND_HALF_UP)


def agreement_end(
    *, start_date: dt.date, end_date: dt.date | None, duration_value: int | None, duration_unit: str
) -> dt.date | None:
    if end_date is not None:
        return end_date
    if duration_value and duration_unit:
        return add_interval(start_date, duration_value, duration_unit)
    return None


def agreement_renewal(
    *,
    ends_on: dt.date,
    tacit_renewal: bool,
    notice_value: int | None,
    notice_unit: str,
    notice_date: dt.date | None,
) -> dt.date:
    """Renewal date = end - notice for tacitly renewed contracts (the last day to give notice), else end."""
    if not tacit_renewal:
        return ends_on
    if notice_date is not None:
        return notice_date
    if notice_value and notice_unit:
        return add_interval(ends_on, notice_value, notice_unit, sign=-1)
    return ends_on


def agreement_status_for(*, today: dt.date, start_date: dt.date, ends_on: dt.date, current: str) -> str:
    if current in MANUAL_STATUSES:
        return current
    if today < start_date:
        return AgreementStatus.VALIDATED
    if today < ends_on:
        return AgreementStatus.ACTIVE
    return AgreementStatus.FINISHED


def agreement_missing_fields(
    *, amount: Any, start_date: Any, end_date: Any, duration_value: Any, duration_unit: Any
) -> list[str]:
    """What a source must fill for a contract to be imported (FAQ: amount, start, end or duration)."""
    missing = []
    if amount in (None, ""):
        missing.append("amount")
    if not start_date:
        missing.append("start date")
    if not end_date and not (duration_value and duration_unit):
        missing.append("end date or duration")
    return missing


AGREEMENT_FIELDS = (
    "plan_name",
    "amount",
    "amount_period",
    "one_time_fee",
    "currency",
    "start_date",
    "end_date",
    "duration_value",
    "duration_unit",
    "notice_value",
    "notice_unit",
    "notice_date",
    "tacit_renewal",
    "status",
    "source",
    "external_id",
)


def _derive(agreement: Agreement, today: dt.date) -> None:
    missing = agreement_missing_fields(
        amount=agreement.amount,
        start_date=agreement.start_date,
        end_date=agreement.end_date,
        duration_value=agreement.duration_value,
        duration_unit=agreement.duration_unit,
    )
    if missing:
        raise ValidationError(f"An agreement needs {', '.join(missing)}.")
    negative = {}
    if agreement.amount < 0:
        negative["amount"] = "The amount cannot be negative."
    if (agreement.one_time_fee or 0) < 0:
        negative["one_time_fee"] = "The one-time fee cannot be negative."
    if negative:
        raise ValidationError(negative)
    ends_on = agreement_end(
        start_date=agreement.start_date,
        end_date=agreement.end_date,
        duration_value=agreement.duration_value,
        duration_unit=agreement.duration_unit,
    )
    assert ends_on is not None
    if ends_on <= agreement.start_date:
        raise ValidationError({"end_date": "The end must come after the start."})
    renews_on = agreement_renewal(
        ends_on=ends_on,
        tacit_renewal=agreement.tacit_renewal,
        notice_value=agreement.notice_value,
        notice_unit=agreement.notice_unit,
        notice_date=agreement.notice_date,
    )
    if renews_on > ends_on:
        raise ValidationError({"notice_date": "The notice date must be on or before the end."})
    agreement.ends_on, agreement.renews_on = ends_on, renews_on
    agreement.mrr = mrr_from_amount(agreement.amount, agreement.amount_period)
    agreement.status = agreement_status_for(
        today=today, start_date=agreement.start_date, ends_on=ends_on, current=agreement.status
    )


@transaction.atomic
def agreement_create(
    *, customer: Customer, actor: Actor, today: dt.date | None = None, **fields: Any
) -> Agreement:
    today = today or timezone.localdate()
    agreement = _agreement_create(customer=customer, actor=actor, today=today, fields=fields)
    customer_refresh_revenue(customer=customer, today=today)
    return agreement


def _agreement_create(
    *, customer: Customer, actor: Actor, today: dt.date, fields: dict[str, Any]
) -> Agreement:
    unknown = set(fields) - set(AGREEMENT_FIELDS)
    if unknown:
        raise TypeError(f"agreement_create() cannot set {sorted(unknown)}")
    fields.setdefault("currency", customer.workspace.currency)
    agreement = Agreement(workspace_id=customer.workspace_id, customer=customer, **fields)
    _derive(agreement, today)
    agreement.save()
    changelog_record(
        customer=customer,
        actor=actor,
        object_type="agreement",
        object_id=agreement.pk,
        changes=[("agreement added", "", f"{agreement.plan_name} {agreement.mrr} MRR".strip())],
    )
    return agreement


@transaction.atomic
def agreement_update(
    *, agreement: Agreement, actor: Actor, today: dt.date | None = None, **fields: Any
) -> Agreement:
    today = today or timezone.localdate()
    _agreement_update(agreement=agreement, actor=actor, today=today, fields=fields)
    customer_refresh_revenue(customer=agreement.customer, today=today)
    return agreement


def _agreement_update(*, agreement: Agreement, actor: Actor, today: dt.date, fields: dict[str, Any]) -> None:
    unknown = set(fields) - set(AGREEMENT_FIELDS)
    if unknown:
        raise TypeError(f"agreement_update() cannot set {sorted(unknown)}")
    before = {field: getattr(agreement, field) for field in fields}
    for field, value in fields.items():
        setattr(agreement, field, value)
    _derive(agreement, today)
    # Compared after derivation: a status handed back to the dates is logged as what the dates made it.
    changes = [
        (f"agreement {field}", old, getattr(agreement, field))
        for field, old in before.items()
        if old != getattr(agreement, field)
    ]
    agreement.save()
    changelog_record(
        customer=agreement.customer,
        actor=actor,
        object_type="agreement",
        object_id=agreement.pk,
        changes=changes,
    )


@transaction.atomic
def agreement_delete(*, agreement: Agreement, actor: Actor) -> None:
    customer = agreement.customer
    changelog_record(
        customer=customer,
        actor=actor,
        object_type="agreement",
        object_id=agreement.pk,
        changes=[("agreement removed", f"{agreement.plan_name} {agreement.mrr} MRR".strip(), "")],
    )
    agreement.delete()
    customer_refresh_revenue(customer=customer)


def counted_in_mrr(today: dt.date) -> Q:
    """Active MRR counts contracts running today (start <= today < end) that nobody paused or cancelled."""
    return Q(start_date__lte=today, ends_on__gt=today) & ~Q(status__in=MANUAL_STATUSES)


def customer_active_mrr(*, customer: Customer, today: dt.date | None = None) -> Decimal:
    today = today or timezone.localdate()
    total = customer.agreements.filter(counted_in_mrr(today)).aggregate(total=Sum("mrr"))["total"]
    return total or Decimal("0")


def customer_next_renewal(*, customer: Customer, today: dt.date | None = None) -> dt.date | None:
    """The soonest renewal among contracts still running; failing that, the latest one that passed
    (the list shows it in orange so that an expired contract is noticed)."""
    today = today or timezone.localdate()
    agreements = customer.agreements.exclude(status=AgreementStatus.CANCELLED)
    upcoming = (
        agreements.filter(ends_on__gt=today).order_by("renews_on").values_list("renews_on", flat=True).first()
    )
    if upcoming is not None:
        return upcoming
    return agreements.order_by("-renews_on").values_list("renews_on", flat=True).first()


def customer_refresh_revenue(*, customer: Customer, today: dt.date | None = None) -> None:
    today = today or timezone.localdate()
    customer.active_mrr = customer_active_mrr(customer=customer, today=today)
    customer.next_renewal_on = customer_next_renewal(customer=customer, today=today)
    Customer.objects.filter(pk=customer.pk).update(
        active_mrr=customer.active_mrr, next_renewal_on=customer.next_renewal_on
    )


def agreements_refresh_all(*, today: dt.date | None = None) -> int:
    """Daily: dates move, so statuses and each customer's active MRR and renewal date move with them.
    Returns how many agreements changed status."""
    today = today or timezone.localdate()
    changed = 0
    dated = Agreement.objects.exclude(status__in=MANUAL_STATUSES)
    changed += (
        dated.filter(start_date__gt=today)
        .exclude(status=AgreementStatus.VALIDATED)
        .update(status=AgreementStatus.VALIDATED)
    )
    changed += (
        dated.filter(start_date__lte=today, ends_on__gt=today)
        .exclude(status=AgreementStatus.ACTIVE)
        .update(status=AgreementStatus.ACTIVE)
    )
    changed += (
        dated.filter(ends_on__lte=today)
        .exclude(status=AgreementStatus.FINISHED)
        .update(status=AgreementStatus.FINISHED)
    )
    customer_ids = Agreement.objects.values_list("customer_id", flat=True).distinct()
    for customer in Customer.objects.filter(pk__in=customer_ids).iterator(chunk_size=500):
        customer_refresh_revenue(customer=customer, today=today)
    return changed


# ---- writes coming from a CRM sync --------------------------------------------------------------------


def agreement_upsert_from_crm(
    *,
    customer: Customer,
    actor: Actor,
    source: str,
    external_id: str,
    values: dict[str, Any],
    today: dt.date | None = None,
    savepoint: bool = True,
    refresh_revenue: bool = True,
    known: CrmAgreements | None = None,
) -> tuple[Agreement, bool, list[str]]:
    """Create or update the agreement a CRM record describes (keyed by source + external id). A CRM
    never deletes a contract in Skalin; the record's skipped-contract note, if any, is cleared.
    Returns (agreement, created, changed fields).

    A sync applying many contracts passes `savepoint=False` when its own savepoint already isolates this
    write, and `refresh_revenue=False` to recompute `customer`'s active MRR and renewal once for all of
    them (customers_refresh_revenue); a customer the contract moved away from is refreshed here.
    `known`: what agreements_from_crm found for a batch of records including this one, so that each
    needs no look-up of its own."""
    unknown = set(values) - set(AGREEMENT_FIELDS)
    if unknown:
        raise TypeError(f"agreement_upsert_from_crm() cannot set {sorted(unknown)}")
    day = today or timezone.localdate()
    with transaction.atomic(savepoint=savepoint):
        if known is None or external_id in known.skipped:
            SkippedAgreement.objects.filter(
                workspace_id=customer.workspace_id, source=source, external_id=external_id
            ).delete()
        if known is not None:
            agreement = known.agreements.get(external_id)
        else:
            agreement = Agreement.objects.filter(
                workspace_id=customer.workspace_id, source=source, external_id=external_id
            ).first()
        if agreement is None:
            created = _agreement_create(
                customer=customer,
                actor=actor,
                today=day,
                fields={"source": source, "external_id": external_id, **values},
            )
            if refresh_revenue:
                customer_refresh_revenue(customer=customer, today=day)
            return created, True, []
        previous_customer = agreement.customer
        if agreement.customer_id != customer.pk:
            agreement.customer = customer
            agreement.save(update_fields=["customer", "updated_at"])
        changed = [key for key, value in values.items() if getattr(agreement, key) != value]
        if changed:
            _agreement_update(
                agreement=agreement, actor=actor, today=day, fields={key: values[key] for key in changed}
            )
        if refresh_revenue and (changed or previous_customer.pk != customer.pk):
            customer_refresh_revenue(customer=customer, today=day)
        if previous_customer.pk != customer.pk:
            customer_refresh_revenue(customer=previous_customer, today=day)
            changed.append("customer")
        return agreement, False, changed


@dataclass
class CrmAgreements:
    """What a batch of CRM records made earlier: their agreements and their skipped-contract notes."""

    agreements: dict[str, Agreement] = dataclass_field(default_factory=dict)
    skipped: set[str] = dataclass_field(default_factory=set)


def agreements_from_crm(*, workspace_id: int, source: str, external_ids: Iterable[str]) -> CrmAgreements:
    """The agreements and skipped-contract notes of these CRM records, by external id (one query each
    per 1,000)."""
    wanted = sorted(set(external_ids))
    found = CrmAgreements()
    for start in range(0, len(wanted), 1000):
        chunk = wanted[start : start + 1000]
        rows = Agreement.objects.filter(workspace_id=workspace_id, source=source, external_id__in=chunk)
        found.agreements.update((row.external_id, row) for row in rows)
        found.skipped.update(
            SkippedAgreement.objects.filter(
                workspace_id=workspace_id, source=source, external_id__in=chunk
            ).values_list("external_id", flat=True)
        )
    return found


def customers_refresh_revenue(*, customers: Iterable[Customer], today: dt.date | None = None) -> None:
    """customer_refresh_revenue for many customers at once: three aggregates and one UPDATE."""
    rows = {customer.pk: customer for customer in customers}
    if not rows:
        return
    today = today or timezone.localdate()
    agreements = Agreement.objects.filter(customer_id__in=list(rows)).order_by()
    mrr = dict(
        agreements.filter(counted_in_mrr(today))
        .values("customer_id")
        .annotate(total=Sum("mrr"))
        .values_list("customer_id", "total")
    )
    running = agreements.exclude(status=AgreementStatus.CANCELLED)
    upcoming = dict(
        running.filter(ends_on__gt=today)
        .values("customer_id")
        .annotate(first=Min("renews_on"))
        .values_list("customer_id", "first")
    )
    latest = dict(
        running.values("customer_id").annotate(last=Max("renews_on")).values_list("customer_id", "last")
    )
    for pk, customer in rows.items():
        customer.active_mrr = mrr.get(pk) or Decimal("0")
        customer.next_renewal_on = upcoming.get(pk) or latest.get(pk)
    Customer.objects.bulk_update(list(rows.values()), ["active_mrr", "next_renewal_on"])


def agreement_skip_from_crm(
    *, customer: Customer, source: str, external_id: str, label: str, missing: list[str]
) -> SkippedAgreement:
    """Remember a contract that could not be imported and why, for the customer's Agreements section."""
    skipped, _ = SkippedAgreement.objects.update_or_create(
        workspace_id=customer.workspace_id,
        source=source,
        external_id=external_id,
        defaults={"customer": customer, "label": label[:200], "missing_fields": missing},
    )
    return skipped
