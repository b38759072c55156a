"""Fill the fake Sellsy account with realistic, messy data (repeatable for a given seed and day).

Companies of the three types (clients, prospects, suppliers; a few archived), missing and messy websites,
Unicode names; 0-4 contacts each (some without email, some on the account's own domain demo-saas.test,
some on gmail.com); opportunities in two pipelines, won, lost or open, with contract custom fields (start
date, commitment in months, MRR; some left empty); comments, phone calls, meetings and sent emails on the
timeline of clients. SandboxRecord has no account column: seeding REPLACES all Sellsy sandbox records and
links (tokens are kept, so a connected Skalin stays connected)."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from django.db import transaction
from django.utils import timezone

from ..models import SandboxAccount, SandboxAssociation, SandboxRecord
from .store import CRM, DEFAULT_ACCOUNT, DEFAULT_USER, iso, new_record

FLUSH = 5000
NAMES = ["Acme", "Globex", "Initech", "Hooli", "Vandelay", "Wonka", "Aperture", "Oscorp", "Pied Piper",
         "Société Générale des Eaux", "Müller & Söhne", "Café ☕ Numérique", "Łódź Software", "東京データ",
         "Crème Brûlée", "Ñandú", "Þór Energy", "Ελληνικά Δίκτυα", "İstanbul Yazılım", "L'Atelier du Vélo"]  # fmt: skip
SUFFIXES = ["SAS", "SARL", "SA", "GmbH", "Ltd", "", "", "& Fils", "Conseil", "Groupe"]
FIRST = ["Camille", "Lucas", "Chloé", "Hugo", "Inès", "Léa", "Jürgen", "María José", "Nguyễn", "Zoë", "Théo"]
LAST = ["Martin", "Bernard", "Dubois", "Lefèvre", "Müller", "García", "O'Connor", "Ng", "Rossi", "Petit"]
POSITIONS = ["Gérant", "DAF", "Responsable achats", "CTO", "Office manager", "", "Directrice commerciale"]
OWN_DOMAIN = "demo-saas.test"
STAFF = [(1, "Camille", "Admin", DEFAULT_USER), (2, "Julien", "Commercial", "julien.commercial@demo-saas.test"),
         (3, "Sophie", "CSM", "sophie.csm@demo-saas.test"), (4, "Ancien", "Salarié", "")]  # fmt: skip
PIPELINES = {1: ("Nouveaux clients", ["Découverte", "Proposition", "Négociation", "Signé"]),
             2: ("Renouvellements", ["À renouveler", "Relance", "Renouvelé"])}  # fmt: skip
# Custom fields: opportunity contract fields, and a company select field.
CF_START, CF_MONTHS, CF_MRR, CF_SEGMENT = 101, 102, 103, 104
CUSTOM_FIELDS = [
    (CF_START, "Date de début de contrat", "date-debut-contrat", "date", ["opportunity"], {}),
    (CF_MONTHS, "Durée d'engagement (mois)", "duree-engagement", "numeric", ["opportunity"], {"min": 1}),
    (CF_MRR, "MRR", "mrr", "amount", ["opportunity"], {}),
    (CF_SEGMENT, "Segment", "segment", "select", ["client", "prospect"],
     {"items": [{"id": 1, "label": "PME"}, {"id": 2, "label": "ETI"}, {"id": 3, "label": "Grand compte"}]}),
]  # fmt: skip


class Writer:
    def __init__(self) -> None:
        self.rows: list[SandboxRecord] = []
        self.links: list[SandboxAssociation] = []
        self.counts: dict[str, int] = {}

    def add(self, object_type: str, external_id: int, props: dict[str, Any], created: dt.datetime,
            modified: dt.datetime) -> None:  # fmt: skip
        self.rows.append(new_record(object_type, external_id, props, created=created, modified=modified))
        self.counts[object_type] = self.counts.get(object_type, 0) + 1
        if len(self.rows) >= FLUSH:
            self.flush()

    def link(self, company: int, contact: int) -> None:
        self.links.append(SandboxAssociation(crm=CRM, from_type="companies", from_id=str(company),
                                             to_type="contacts", to_id=str(contact)))  # fmt: skip

    def flush(self) -> None:
        SandboxRecord.objects.bulk_create(self.rows, batch_size=1000)
        SandboxAssociation.objects.bulk_create(self.links, batch_size=1000)
        self.rows, self.links = [], []


def seed(companies: int, random_seed: int, account_id: str | None = None) -> str:
    rng = random.Random(random_seed)
    account_id = account_id or DEFAULT_ACCOUNT
    today = timezone.now().replace(hour=9, minute=0, second=0, microsecond=0)

    def ago(days: float) -> dt.datetime:
        return (today - dt.timedelta(days=days, seconds=rng.randrange(86_400))).replace(microsecond=0)

    writer = Writer()
    with transaction.atomic():
        SandboxRecord.objects.filter(crm=CRM).delete()
        SandboxAssociation.objects.filter(crm=CRM).delete()
        SandboxAccount.objects.update_or_create(crm=CRM, account_id=account_id,
                                                defaults={"user_email": DEFAULT_USER})  # fmt: skip
        long_ago = ago(900)
        for staff_id, first, last, email in STAFF:
            writer.add("staffs", staff_id, {"firstname": first, "lastname": last, "email": email,
                                            "status": "ok" if email else "disabled"}, long_ago, long_ago)  # fmt: skip
        for pipeline_id, (name, steps) in PIPELINES.items():
            writer.add("pipelines", pipeline_id, {"name": name, "rank": pipeline_id, "steps": [
                {"id": pipeline_id * 10 + n, "name": step} for n, step in enumerate(steps)]}, long_ago, long_ago)  # fmt: skip
        for cf_id, name, code, kind, related, params in CUSTOM_FIELDS:
            writer.add("custom-fields", cf_id, {"name": name, "code": code, "type": kind, "description": "",
                                                "mandatory": False, "rank": cf_id - 100, "related_objects": related,
                                                "parameters": params, "group": None}, long_ago, long_ago)  # fmt: skip
        ids = {"contact": 50_000_000, "opportunity": 70_000_000, "comment": 80_000_000, "call": 81_000_000,
               "event": 82_000_000, "activity": 83_000_000}  # fmt: skip

        def next_id(kind: str) -> int:
            ids[kind] += 1
            return ids[kind]

        for n in range(companies):
            company_id = 30_000_001 + n
            kind = rng.choices(["client", "prospect", "supplier"], [55, 30, 15])[0]
            name = f"{rng.choice(NAMES)} {rng.choice(SUFFIXES)}".strip() + (
                f" {n}" if n >= len(NAMES) else ""
            )
            slug = "".join(c for c in name.lower() if c.isascii() and c.isalnum()) or f"societe{n}"
            website = rng.choice([f"https://www.{slug}.fr", f"{slug}.com", f"HTTP://{slug.upper()}.IO/", "", None,
                                  f"https://{slug}.fr/accueil"])  # fmt: skip
            created = ago(rng.uniform(30, 1000))
            modified = max(created, ago(rng.uniform(0, 365)))
            props: dict[str, Any] = {
                "type": kind, "name": f"  {name}" if n % 97 == 5 else name, "email": f"contact@{slug}.fr",
                "website": website, "phone_number": rng.choice(["+33 1 23 45 67 89", "", "01.23.45.67.89"]),
                "reference": f"CLI{n:05d}" if kind == "client" else "", "note": "",
                "owner": {"id": rng.choice(STAFF)[0], "type": "staff"}, "is_archived": rng.random() < 0.03,
                "main_contact_id": None, "legal_france": {"siren": "", "siret": ""},
                "_cf": {str(CF_SEGMENT): rng.choice([1, 2, 3, None])} if kind != "supplier" else {},
            }  # fmt: skip
            contact_ids = []
            for _ in range(rng.choice([0, 1, 2, 2, 3, 4])):
                contact_id = next_id("contact")
                first, last = rng.choice(FIRST), rng.choice(LAST)
                local = f"{first}.{last}".lower().replace(" ", "").replace("'", "")
                email = rng.choices([f"{local}@{slug}.fr", f"{local}@gmail.com", f"{local}@{OWN_DOMAIN}", ""],
                                    [70, 8, 8, 14])[0]  # fmt: skip
                writer.add("contacts", contact_id, {
                    "civility": rng.choice(["mr", "mrs", None]), "first_name": first, "last_name": last,
                    "email": email, "phone_number": "", "mobile_number": "+33 6 12 34 56 78",
                    "position": rng.choice(POSITIONS), "is_archived": False,
                }, created, max(created, ago(rng.uniform(0, 400))))  # fmt: skip
                writer.link(company_id, contact_id)
                contact_ids.append(contact_id)
            props["main_contact_id"] = contact_ids[0] if contact_ids else None
            writer.add("companies", company_id, props, created, modified)
            if kind != "client":
                continue
            for _ in range(rng.choice([0, 1, 1, 2, 3])):
                pipeline = rng.choice(list(PIPELINES))
                status = rng.choices(["won", "lost", "open"], [60, 20, 20])[0]
                steps = PIPELINES[pipeline][1]
                step = steps[-1] if status == "won" else rng.choice(steps[:-1])
                amount = rng.choice([1200, 2500, 4800, 9900, None])
                when = ago(rng.uniform(0, 700))
                custom: dict[str, Any] = {}
                if status == "won" and rng.random() < 0.85:
                    custom = {str(CF_START): (when + dt.timedelta(days=rng.choice([0, 15, 30]))).date().isoformat(),
                              str(CF_MONTHS): rng.choice(["12", "24", "36", None]),
                              str(CF_MRR): str(round((amount or 1200) / 12, 2))}  # fmt: skip
                writer.add("opportunities", next_id("opportunity"), {
                    "number": f"OPP-{ids['opportunity'] % 100000:05d}", "name": f"{name} - {PIPELINES[pipeline][0]}",
                    "status": status, "amount": {"value": str(amount) if amount else None, "currency": "EUR"},
                    "pipeline": {"id": pipeline, "name": PIPELINES[pipeline][0]},
                    "step": {"id": pipeline * 10 + steps.index(step), "name": step},
                    "due_date": when.date().isoformat(), "updated_status": iso(when), "probability": 100 if status
                    == "won" else 40, "owner": {"id": rng.choice(STAFF)[0], "type": "staff"}, "company_id": company_id,
                    "contact_ids": contact_ids[:1], "_cf": custom, "sbx_company": str(company_id),
                }, when, when)  # fmt: skip
            timeline(writer, rng, company_id, contact_ids, ago, next_id)
        writer.flush()
    counts = writer.counts
    return (f"account {account_id}: {counts.get('companies', 0)} companies, {counts.get('contacts', 0)} "
            f"contacts, {counts.get('opportunities', 0)} opportunities, "
            f"{sum(counts.get(k, 0) for k in ('comments', 'phone-calls', 'calendar-events', 'crm-activities'))}"
            " timeline items")  # fmt: skip


def timeline(writer: Writer, rng: random.Random, company_id: int, contacts: list[int], ago: Any,
             next_id: Any) -> None:  # fmt: skip
    link = {"sbx_company": str(company_id)}
    contact = rng.choice(contacts) if contacts else None
    for _ in range(rng.choice([0, 1, 1, 2])):
        when = ago(rng.uniform(0, 300))
        body = rng.choice(
            ["Point d'étape : tout va bien.", "Relance facture impayée.", "Demande de formation. " * 40]
        )
        writer.add("comments", next_id("comment"), {"description": body, "owner": {"id": 2, "type": "staff"},
                   "company_id": company_id, "contact_id": contact, "parent_id": None, **link}, when, when)  # fmt: skip
    for _ in range(rng.choice([0, 0, 1])):
        when = ago(rng.uniform(0, 300))
        related = [{"type": "company", "id": company_id}] + (
            [{"type": "contact", "id": contact}] if contact else []
        )
        writer.add("phone-calls", next_id("call"), {"title": "Appel de suivi", "date": iso(when),
                   "description": "Échange sur le renouvellement.", "result": "connected",
                   "source": rng.choice(["incoming", "outcoming"]), "duration": rng.randrange(60, 1800),
                   "owner": {"id": 3, "type": "staff"}, "related": related, **link}, when, when)  # fmt: skip
    for _ in range(rng.choice([0, 0, 1])):
        when = ago(rng.uniform(-20, 300))
        participants = [{"type": "staff", "id": 3}] + (
            [{"type": "contact", "id": contact}] if contact else []
        )
        writer.add("calendar-events", next_id("event"), {"title": "Revue trimestrielle", "description": "QBR",
                   "datetime_start": iso(when), "datetime_end": iso(when + dt.timedelta(hours=1)),
                   "participants": participants, "related": [{"type": "company", "id": company_id}],
                   "company_id": company_id, **link}, when, when)  # fmt: skip
    for _ in range(rng.choice([0, 1, 2])):
        when = ago(rng.uniform(0, 300))
        people = [{"type": "contact", "id": contact}] if contact else []
        writer.add("crm-activities", next_id("activity"), {"date": iso(when), "due_date": None,
                   "event": "email.sent", "author": {"id": 2, "type": "staff", "email": STAFF[1][3]},
                   "object": {"type": "email", "id": rng.randrange(10**6)}, "companies": [company_id],
                   "people": people, "related": people, "more": {"subject": "Votre facture du mois"},
                   **link}, when, when)  # fmt: skip
