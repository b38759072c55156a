"""Fill the fake Pipedrive company with realistic, messy data (the same records for a given seed; times relative to now).

Organizations with and without won deals (about half are customers; others have open or lost deals, or
none), messy websites and Unicode names; parent/daughter relationships including a three-level chain,
and "related" ones; persons (some without email, some without organization); deals in two pipelines with
custom contract fields (start date, length, MRR, notice, tacit renewal; some left empty); calls, meetings,
emails and tasks, and notes, over the last year. SandboxRecord has no account column: seeding REPLACES all
Pipedrive sandbox records (tokens are kept, so a connected Skalin stays connected)."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from django.db import transaction
from django.utils import timezone

from ..models import SandboxAccount, SandboxRecord
from .store import CRM, DEFAULT_ACCOUNT, DEFAULT_USER, field_key, new_record

FLUSH = 5000
NAMES = ["Acme", "Globex", "Initech", "Hooli", "Vandelay", "Wonka", "Aperture", "Oscorp", "Pied Piper",
         "Société Générale des Eaux", "Müller & Söhne", "Café ☕ Numérique", "Łódź Software", "東京データ",
         "Crème Brûlée", "Ñandú", "Þór Energy", "Ελληνικά Δίκτυα", "İstanbul Yazılım", "L'Atelier du Vélo"]  # fmt: skip
SUFFIXES = ["SAS", "SARL", "GmbH", "Ltd", "", "", "Group", "Inc."]
FIRST = ["Anna", "Lucas", "Chloé", "Hugo", "Inès", "Jürgen", "María José", "Nguyễn", "Zoë", "Théo", "Siobhán"]
LAST = ["Martin", "Dubois", "Lefèvre", "Müller", "García", "O'Connor", "Ng", "Rossi", "Kowalski", "Åberg"]
TITLES = ["CEO", "CFO", "Head of Ops", "Office manager", "", "VP Sales", "Responsable achats"]
USERS = [(1, "Anna Admin", DEFAULT_USER, True), (2, "Bruno Sales", "bruno.sales@demo-saas.test", True),
         (3, "Chloé CSM", "chloe.csm@demo-saas.test", True), (4, "Former Employee", "", False)]  # fmt: skip
PIPELINES = [(1, "New business"), (2, "Renewals")]
SEGMENT, OLD_ID = field_key("org:Segment"), field_key("org:Old CRM ID")
ROLE = field_key("person:Role")
START, LENGTH, MRR, NOTICE, TACIT = (
    field_key(f"deal:{n}") for n in ("start", "length", "mrr", "notice", "tacit")
)
SEGMENTS = [{"id": 11, "label": "SMB"}, {"id": 12, "label": "Mid-market"}, {"id": 13, "label": "Enterprise"}]
ROLES = [{"id": 21, "label": "Champion"}, {"id": 22, "label": "Sponsor"}, {"id": 23, "label": "Key user"},
         {"id": 24, "label": "End user"}]  # fmt: skip
YES_NO = [{"id": 31, "label": "Yes"}, {"id": 32, "label": "No"}]
STANDARD = {
    "organizationFields": [("name", "Name", "varchar"), ("owner_id", "Owner", "user"), ("website", "Website", "varchar"),
                           ("address", "Address", "address"), ("label_ids", "Labels", "set"),
                           ("won_deals_count", "Won deals", "int"), ("people_count", "People", "int"),
                           ("add_time", "Organization created", "date"), ("update_time", "Update time", "date")],
    "personFields": [("name", "Name", "varchar"), ("first_name", "First name", "varchar"),
                     ("last_name", "Last name", "varchar"), ("email", "Email", "varchar"), ("phone", "Phone", "phone"),
                     ("job_title", "Job title", "varchar"), ("org_id", "Organization", "org"), ("owner_id", "Owner", "user")],
    "dealFields": [("title", "Title", "varchar"), ("value", "Value", "monetary"), ("currency", "Currency", "varchar"),
                   ("status", "Status", "status"), ("pipeline_id", "Pipeline", "double"), ("stage_id", "Stage", "stage"),
                   ("won_time", "Won time", "date"), ("org_id", "Organization", "org"), ("owner_id", "Owner", "user")],
}  # fmt: skip
CUSTOM: dict[str, list[tuple[str, str, str, list[dict[str, Any]] | None]]] = {
    "organizationFields": [(SEGMENT, "Segment", "enum", SEGMENTS), (OLD_ID, "Old CRM ID", "varchar", None)],
    "personFields": [(ROLE, "Role", "enum", ROLES)],
    "dealFields": [(START, "Contract start", "date", None), (LENGTH, "Contract length (months)", "double", None),
                   (MRR, "MRR", "monetary", None), (NOTICE, "Notice period (months)", "double", None),
                   (TACIT, "Tacit renewal", "enum", YES_NO)],
}  # fmt: skip


class Writer:
    def __init__(self) -> None:
        self.rows: list[SandboxRecord] = []
        self.counts: dict[str, int] = {}
        self.ids: dict[str, int] = {}

    def add(self, object_type: str, props: dict[str, Any], created: dt.datetime, modified: dt.datetime,
            external_id: int | None = None) -> int:  # fmt: skip
        if external_id is None:
            external_id = self.ids[object_type] = self.ids.get(object_type, 0) + 1
        self.rows.append(
            new_record(object_type, external_id, props, created=created, modified=max(created, modified))
        )
        self.counts[object_type] = self.counts.get(object_type, 0) + 1
        if len(self.rows) >= FLUSH:
            self.flush()
        return external_id

    def flush(self) -> None:
        SandboxRecord.objects.bulk_create(self.rows, batch_size=1000)
        self.rows = []


def seed(companies: int, random_seed: int, account_id: str | None = None) -> str:
    rng = random.Random(random_seed)
    account_id = account_id or DEFAULT_ACCOUNT
    # Every stamp lies in the past, so an incremental cursor never runs ahead of a later change.
    today = timezone.now().replace(microsecond=0) - dt.timedelta(minutes=1)

    def ago(days: float) -> dt.datetime:
        return (today - dt.timedelta(days=days, seconds=rng.randrange(86_400))).replace(microsecond=0)

    writer = Writer()
    with transaction.atomic():
        SandboxRecord.objects.filter(crm=CRM).delete()
        SandboxAccount.objects.update_or_create(
            crm=CRM, account_id=account_id, defaults={"user_email": DEFAULT_USER}
        )
        long_ago = ago(1200)
        for user_id, name, email, active in USERS:
            writer.add("users", {"name": name, "email": email, "active_flag": active, "is_admin": int(user_id == 1)},
                       long_ago, long_ago, user_id)  # fmt: skip
        for pipeline_id, name in PIPELINES:
            writer.add(
                "pipelines",
                {"name": name, "active": True, "order_nr": pipeline_id},
                long_ago,
                long_ago,
                pipeline_id,
            )
        for list_name, standard in STANDARD.items():
            order = 0
            for key, name, kind in standard:
                order += 1
                writer.add(list_name, {"key": key, "name": name, "field_type": kind, "edit_flag": False, "options": None,
                                       "mandatory_flag": key in ("name", "title"), "order_nr": order,
                                       "bulk_edit_allowed": key not in ("add_time", "update_time", "won_deals_count",
                                                                        "people_count")}, long_ago, long_ago)  # fmt: skip
            for key, name, kind, options in CUSTOM[list_name]:
                order += 1
                writer.add(list_name, {"key": key, "name": name, "field_type": kind, "edit_flag": True, "options": options,
                                       "mandatory_flag": False, "order_nr": order, "bulk_edit_allowed": True},
                           long_ago, long_ago)  # fmt: skip

        customers: list[int] = []
        for n in range(companies):
            org_id = n + 1
            customer = rng.random() < 0.55 or n < 3  # the three-level chain below is made of customers
            name = f"{rng.choice(NAMES)} {rng.choice(SUFFIXES)}".strip() + (
                f" {n}" if n >= len(NAMES) else ""
            )
            slug = "".join(c for c in name.lower() if c.isascii() and c.isalnum()) or f"org{n}"
            website = rng.choice([f"https://www.{slug}.com", f"{slug}.io", f"HTTP://{slug.upper()}.FR/", "", None,
                                  f"https://{slug}.de/home"])  # fmt: skip
            created = ago(rng.uniform(60, 1100))
            props: dict[str, Any] = {
                "name": f" {name} " if n % 89 == 7 else name, "owner_id": rng.choice(USERS[:3])[0], "website": website,
                "address": rng.choice([None, {"value": "12 rue de la Paix, Paris", "country": "France"},
                                       {"value": "Friedrichstraße 1, Berlin", "country": "Germany"}]),
                "visible_to": 3, "label_ids": [],
                "custom_fields": {SEGMENT: rng.choice([11, 12, 13, None]), OLD_ID: f"SF-{n:06d}" if n % 3 else None},
            }  # fmt: skip
            writer.add("organizations", props, created, ago(rng.uniform(0, 365)), org_id)
            if customer:
                customers.append(org_id)
            person_ids = []
            for _ in range(rng.choice([0, 1, 1, 2, 2, 3, 4])):
                first, last = rng.choice(FIRST), rng.choice(LAST)
                email = f"{first.lower()[:3]}.{last.lower()[:4]}{n}@{slug}.com".replace(" ", "").replace(
                    "'", ""
                )
                person = {"name": f"{first} {last}", "first_name": first, "last_name": last, "owner_id": props["owner_id"],
                          "org_id": org_id, "emails": [] if rng.random() < 0.12 else [{"value": email, "primary": True, "label": "work"}],
                          "phones": [{"value": rng.choice(["+33 1 23 45 67 89", "0612345678"]), "primary": True, "label": "work"}]
                          if rng.random() < 0.6 else [], "job_title": rng.choice(TITLES), "visible_to": 3, "label_ids": [],
                          "custom_fields": {ROLE: rng.choice([21, 22, 23, 24, None, None])}}  # fmt: skip
                person_ids.append(writer.add("persons", person, created, ago(rng.uniform(0, 365))))
            deal_count = rng.randint(1, 3) if customer else rng.choice([0, 0, 1, 2])
            for d in range(deal_count):
                won = customer and d == 0 or (customer and rng.random() < 0.5)
                status = "won" if won else rng.choice(["open", "lost"])
                pipeline = rng.choice(PIPELINES)[0]
                won_at = ago(rng.uniform(5, 700))
                mrr = rng.choice([99, 250, 490, 1200, None])
                deal = {"title": f"{name.strip()} – {rng.choice(['Starter', 'Pro', 'Enterprise'])} plan", "value": (mrr or 100) * 12,
                        "currency": "EUR", "status": status, "pipeline_id": pipeline, "stage_id": pipeline * 10 + 4,
                        "org_id": org_id, "person_id": person_ids[0] if person_ids else None, "owner_id": props["owner_id"],
                        "won_time": won_at.strftime("%Y-%m-%d %H:%M:%S") if won else None,
                        "custom_fields": {START: (won_at + dt.timedelta(days=rng.choice([0, 14, 30]))).date().isoformat()
                                          if won and rng.random() < 0.85 else None,
                                          LENGTH: rng.choice([12, 24, 36, None]), MRR: {"value": mrr, "currency": "EUR"} if mrr else None,
                                          NOTICE: rng.choice([1, 3, None]), TACIT: rng.choice([31, 32, None])}}  # fmt: skip
                writer.add(
                    "deals", deal, won_at - dt.timedelta(days=40), ago(rng.uniform(0, 365)) if won else won_at
                )
            if not customer:
                continue
            for _ in range(rng.choice([0, 1, 2, 3, 4])):
                kind = rng.choice(["call", "meeting", "email", "task"])
                when = ago(rng.uniform(0, 365))
                activity = {"subject": f"{kind.capitalize()} with {name.strip()}", "type": kind, "owner_id": props["owner_id"],
                            "org_id": org_id, "person_id": person_ids[0] if person_ids else None, "deal_id": None,
                            "due_date": when.date().isoformat(), "due_time": when.strftime("%H:%M") if kind != "task" else None,
                            "duration": "00:30" if kind in ("call", "meeting") else None, "done": rng.random() < 0.85,
                            "note": rng.choice(["", "<p>Discussed renewal 🚀</p>", "Budget validé, relance en juin."]),
                            "participants": [{"person_id": p, "primary": i == 0} for i, p in enumerate(person_ids[:2])],
                            "marked_as_done_time": None}  # fmt: skip
                writer.add("activities", activity, when, when)
            for _ in range(rng.choice([0, 0, 1, 2])):
                when = ago(rng.uniform(0, 365))
                note = {"content": rng.choice(["<p>Onboarding done.</p>", "Churn risk: new CFO ⚠️", "QBR notes: très satisfaits"]),
                        "org_id": org_id, "person_id": rng.choice(person_ids) if person_ids and rng.random() < 0.4 else None,
                        "deal_id": None, "user_id": props["owner_id"], "pinned_to_organization_flag": False}  # fmt: skip
                writer.add("notes", note, when, when)
        # Orphans: a person without organization.
        writer.add("persons", {"name": "Lone Wolf", "first_name": "Lone", "last_name": "Wolf", "owner_id": 1, "org_id": None,
                               "emails": [{"value": "lone@wolf.test", "primary": True}], "phones": [], "job_title": "",
                               "visible_to": 3, "label_ids": [], "custom_fields": {}}, long_ago, long_ago)  # fmt: skip
        # Relationships: a three-level chain 1 > 2 > 3, parent/daughter pairs among customers, some "related".
        pairs = [(1, 2), (2, 3)] if companies >= 3 else []
        rest = customers[3:]
        for n in range(0, len(rest) - 1, 15):
            pairs.append((rest[n], rest[n + 1]))
        for owner, linked in pairs:
            writer.add("organizationRelationships", {"type": "parent", "rel_owner_org_id": owner, "rel_linked_org_id": linked},
                       long_ago, long_ago)  # fmt: skip
        for n in range(5, companies - 1, 40):
            writer.add("organizationRelationships", {"type": "related", "rel_owner_org_id": n, "rel_linked_org_id": n + 1},
                       long_ago, long_ago)  # fmt: skip
        writer.flush()
    counts = ", ".join(f"{count} {kind}" for kind, count in sorted(writer.counts.items()))
    return f"Pipedrive company {account_id}: {len(customers)} organizations with a won deal; {counts}."
