"""Contracts: amount, start, end and notice in their three forms, tacit renewal; incomplete ones skipped."""

from __future__ import annotations

from typing import Any

from agreements.models import AmountPeriod, Interval
from agreements.services import (
    CrmAgreements,
    agreement_missing_fields,
    agreement_skip_from_crm,
    agreement_upsert_from_crm,
    agreements_from_crm,
    customers_refresh_revenue,
)
from customers.models import Customer

from ..base import ReadRequest, Record
from ..mapping import clean_text, parse_amount, parse_bool, parse_date, parse_int, remote_value
from ..models import ObjectSetting, ObjectType
from ..sync import RunContext, since_for, state_for
from .common import (
    ID_FIELD,
    PageCustomers,
    Refs,
    input_mappings,
    raw,
    read_scoped,
    synced_customer_ids,
    synced_customer_refs,
)


class AgreementPull:
    def __init__(self, ctx: RunContext, setting: ObjectSetting) -> None:
        self.ctx, self.setting = ctx, setting
        self.options = setting.options or {}
        self.maps = {m.local_field: m for m in input_mappings(setting)}
        self.customers = PageCustomers(ctx)
        self.refs = Refs(ctx, ObjectType.AGREEMENTS)
        # Customers whose active MRR and renewal the page's contracts may move: recomputed once per page.
        self.touched: dict[int, Customer] = {}
        # The agreements and skipped-contract notes the page's records made in earlier runs.
        self.known = CrmAgreements()

    def fields(self) -> list[str]:
        names = {m.remote_field for m in self.maps.values() if m.remote_field != ID_FIELD}
        for block in ("end", "notice", "tacit"):
            if self.options.get(block, {}).get("field"):
                names.add(self.options[block]["field"])
        return sorted(names)

    def run(self) -> None:
        if not synced_customer_refs(self.ctx).exists():
            return
        if "amount" not in self.maps:
            self.ctx.partial_reasons.append(
                "Agreements: map the amount field (MRR or ARR) to import contracts."
            )
            return
        state = state_for(self.ctx, self.setting)
        request = ReadRequest(
            object_type=ObjectType.AGREEMENTS,
            since=since_for(state),
            cursor=None,
            options=self.options,
            fields=self.fields(),
            scope_ids=synced_customer_ids(self.ctx),
        )
        read_scoped(self.ctx, state, request, self)

    def prepare(self, records: list[Record]) -> None:
        self.customers.load(records)
        self.refs.load(record.external_id for record in records)
        self.known = agreements_from_crm(
            workspace_id=self.ctx.workspace.pk,
            source=self.ctx.connection.crm,
            external_ids=[record.external_id for record in records],
        )
        self.touched = {}

    def settle(self) -> None:
        if self.touched:
            customers_refresh_revenue(customers=list(self.touched.values()))
        self.touched, self.known = {}, CrmAgreements()

    def value(self, record: Record, local: str) -> Any:
        mapping = self.maps.get(local)
        return raw(record, mapping) if mapping else None

    def _term(self, record: Record, block: str) -> tuple[Any, Any, Any]:
        """(value, unit, date) of an end or notice: Duration (field + unit), Date (field) or Manual."""
        spec = self.options.get(block) or {}
        mode = spec.get("mode", "none")
        if mode == "date":
            return None, "", parse_date(remote_value(record.fields, spec.get("field", "")))
        if mode == "duration":
            unit = spec.get("unit") or Interval.MONTH
            return parse_int(remote_value(record.fields, spec.get("field", ""))), unit, None
        if mode == "manual":
            return parse_int(spec.get("value")), spec.get("unit") or Interval.MONTH, None
        return None, "", None

    def apply(self, record: Record) -> None:
        customer = self.customers.of(record)
        if customer is None:
            self.ctx.count("skipped")
            return
        amount = parse_amount(self.value(record, "amount"))
        start = parse_date(self.value(record, "start_date"))
        end_value, end_unit, end_date = self._term(record, "end")
        notice_value, notice_unit, notice_date = self._term(record, "notice")
        plan = clean_text(self.value(record, "plan_name"), max_length=200)
        missing = agreement_missing_fields(
            amount=amount,
            start_date=start,
            end_date=end_date,
            duration_value=end_value,
            duration_unit=end_unit,
        )
        if missing:
            agreement_skip_from_crm(
                customer=customer,
                source=self.ctx.connection.crm,
                external_id=record.external_id,
                label=plan or record.external_id,
                missing=missing,
            )
            self.ctx.count("skipped")
            self.ctx.warn(
                f"Contract {record.external_id} of {customer} not imported: missing {', '.join(missing)}."
            )
            return
        fee = parse_amount(self.value(record, "one_time_fee"))
        values = {
            "plan_name": plan,
            "amount": amount,
            "amount_period": AmountPeriod.ARR
            if self.options.get("amount_format") == "arr"
            else AmountPeriod.MRR,
            "one_time_fee": fee if fee is not None else 0,
            "start_date": start,
            "end_date": end_date,
            "duration_value": end_value if end_date is None else None,
            "duration_unit": end_unit if end_date is None else "",
            "notice_value": notice_value,
            "notice_unit": notice_unit if notice_value else "",
            "notice_date": notice_date,
            "tacit_renewal": self.tacit(record, notice_value, notice_date),
        }
        # The record's own savepoint (apply_page) isolates it; MRR and renewal are recomputed per page.
        agreement, created, changed = agreement_upsert_from_crm(
            customer=customer,
            actor=self.ctx.actor,
            source=self.ctx.connection.crm,
            external_id=record.external_id,
            values=values,
            savepoint=False,
            refresh_revenue=False,
            known=self.known,
        )
        if created or changed:
            self.touched[customer.pk] = customer
        self.ctx.count("created" if created else "updated" if changed else "unchanged")
        self.refs.link(record, agreement.pk, {})

    def tacit(self, record: Record, notice_value: Any, notice_date: Any) -> bool:
        rule = (self.options.get("tacit") or {}).get("rule", "if_notice")
        if rule == "always":
            return True
        if rule == "never":
            return False
        if rule == "field":
            spec = self.options["tacit"]
            value = remote_value(record.fields, spec.get("field", ""))
            expected = spec.get("value")
            if expected in (None, ""):
                return bool(parse_bool(value))
            return clean_text(value).casefold() == str(expected).casefold()
        return bool(notice_value or notice_date)
