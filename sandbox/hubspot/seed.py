"""Fill the fake HubSpot portal with realistic, messy data (repeatable for a given seed and day).

Companies with lifecycle stages (mostly customer), missing and messy domains, a parent/child chain three
levels deep, Unicode (accents, CJK, emoji) and HTML in names, a few duplicates; 0-6 contacts each (some
without email, some on gmail.com, buying roles); deals in two pipelines, won ones with contract properties
(some without amount); emails both ways, meetings, calls and notes (one very long). Modification times
spread over the last year.

Seeding REPLACES one portal's records, associations and custom properties (the demo portal unless told
otherwise) and (re)creates that account with its demo user; other portals (the migration tour's) are left
as they are, and the new records take ids none of them uses. Tokens are kept, so a connected Skalin stays
connected."""

from __future__ import annotations

import datetime as dt
import random
import re
import unicodedata
from collections.abc import Callable
from typing import Any

from django.db import transaction

from ..models import SandboxAccount, SandboxAssociation, SandboxProperty, SandboxRecord
from . import schema
from .store import association_pair, iso, new_record, next_ids, records

FLUSH = 5000
Moment = Callable[[float], dt.datetime]  # days back -> a time with random milliseconds

ROOTS = [
    "Acme", "Globex", "Initech", "Umbrella", "Hooli", "Vandelay", "Soylent", "Cyberdyne", "Tyrell", "Wonka",
    "Aperture", "Nakatomi", "Oscorp", "Monarch", "Octan", "Virtucon", "Blue Sun", "Pied Piper", "Gekko",
    "Société Générale des Eaux", "Müller & Söhne", "Ålesund Fisk", "Café ☕ Numérique", "Łódź Software",
    "Zürich Analytics", "São Paulo Tecnologia", "東京データ", "北京云科技", "서울 소프트", "Ωmega",
    "🚀 Rocket", "Crème Brûlée", "Ñandú", "Þór Energy", "Ελληνικά Δίκτυα", "Škoda Parts", "İstanbul Yazılım",
]  # fmt: skip
MIDDLES = ["Systems", "Labs", "Group", "Solutions", "Analytics", "Cloud", "Logistics", "Partners", "Health",
           "Foods", "Energy", "Media", "Studio", "Consulting", ""]  # fmt: skip
SUFFIXES = ["Inc", "SAS", "GmbH", "Ltd", "SA", "BV", "株式会社", "AB", "SpA", "LLC", "", "", ""]
ODD_NAMES = ["<b>Bold</b> Ventures & Co", "Smith &amp; Sons", "  Padded   Spaces Ltd  ", "ALL CAPS CORP",
             "<script>alert(1)</script> Labs"]  # fmt: skip
TLDS = [".com", ".com", ".fr", ".de", ".io", ".co.uk", ".jp", ".es"]
STAGES = {"customer": 70, "evangelist": 8, "opportunity": 8, "lead": 7, "other": 4, "salesqualifiedlead": 3}
INDUSTRIES = [
    "COMPUTER_SOFTWARE",
    "FINANCIAL_SERVICES",
    "HOSPITAL_HEALTH_CARE",
    "RETAIL",
    "LOGISTICS_AND_SUPPLY_CHAIN",
    "",
]
CITIES = [("Paris", "France"), ("Lyon", "France"), ("Berlin", "Germany"), ("London", "United Kingdom"),
          ("Tokyo", "Japan"), ("Madrid", "Spain"), ("New York", "United States"), ("São Paulo", "Brazil"), ("", "")]  # fmt: skip
FIRST = ["Alice", "Bob", "Chloé", "Daniel", "Émilie", "François", "Greta", "Hiroshi", "Inès", "Jürgen", "Kateřina",
         "Lars", "María José", "Nguyễn", "Olga", "Pål", "Quentin", "Rūta", "Søren", "Tomás", "Zoë", "李", "Ahmed",
         "Fatima", "Yuki", "Wei"]  # fmt: skip
LAST = ["Martin", "Bernard", "Dubois", "Müller", "Schmidt", "García", "Rossi", "Tanaka", "Kowalski", "Nowak",
        "Johansson", "O'Connor", "Smith", "van der Berg", "Øster", "Lefèvre", "Ng", "王", "Silva", "Papadopoulos"]  # fmt: skip
TITLES = ["CEO", "CTO", "Head of Customer Success", "Office Manager", "Procurement", "VP Sales", "Developer",
          "Finance Director", ""]  # fmt: skip
ROLES = {
    "": 50,
    "CHAMPION": 12,
    "BUDGET_HOLDER": 10,
    "END_USER": 15,
    "DECISION_MAKER": 8,
    "CHAMPION;END_USER": 5,
}
PLANS = ["Starter", "Growth", "Enterprise", "Renewal"]
OPEN_STAGES = {"default": ["appointmentscheduled", "qualifiedtobuy", "presentationscheduled", "contractsent", "closedlost"],
               "8675309": ["1031001", "1031003"]}  # fmt: skip
WON_STAGE = {"default": "closedwon", "8675309": "1031002"}
SUBJECTS = ["Quarterly business review", "Re: invoice #{n}", "Onboarding next steps", "Renewal proposal",
            "Feature request: SSO", "Urgent: outage on our side", "Merci pour la démo !", "お見積もりの件"]  # fmt: skip
KINDS = {"emails": 40, "meetings": 15, "calls": 20, "notes": 25}
# Custom properties a real portal would have been given by its admins.
CUSTOM_PROPERTIES = [
    ("companies", "customer_tier", "Customer tier", "enumeration", "select",
     [{"label": t.title(), "value": t, "displayOrder": n, "hidden": False} for n, t in enumerate(["gold", "silver", "bronze"])]),
    ("deals", "contract_start_date", "Contract start date", "date", "date", []),
    ("deals", "contract_end_date", "Contract end date", "date", "date", []),
    ("deals", "contract_duration_months", "Contract duration (months)", "number", "number", []),
    ("deals", "notice_period_months", "Notice period (months)", "number", "number", []),
    ("deals", "tacit_renewal", "Tacit renewal", "bool", "booleancheckbox",
     [{"label": "Yes", "value": "true", "displayOrder": 0, "hidden": False},
      {"label": "No", "value": "false", "displayOrder": 1, "hidden": False}]),
]  # fmt: skip


def _pick(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _ascii(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "", plain.lower())


class _Writer:
    """Buffers rows and writes them with bulk_create, a few thousand at a time."""

    def __init__(self, portal: str) -> None:
        self.portal = portal
        self.records: list[SandboxRecord] = []
        self.links: list[SandboxAssociation] = []
        # The portal's old rows are gone; other portals keep theirs, and their ids.
        self.ids = {name: int(next_ids(name, 1, excluding_portal=portal)[0]) - 1 for name in schema.OBJECTS}
        self.counts = dict.fromkeys(schema.OBJECTS, 0)
        self.names: set[str] = set()

    def add(
        self, object_type: str, properties: dict[str, Any], *, created: dt.datetime, modified: dt.datetime
    ) -> str:
        self.ids[object_type] += 1
        self.counts[object_type] += 1
        external_id = str(self.ids[object_type])
        self.records.append(
            new_record(self.portal, object_type, external_id, properties, created=created, modified=modified)
        )
        if len(self.records) >= FLUSH:
            self.flush()
        return external_id

    def link(self, from_type: str, from_id: str, to_id: str, type_id: int) -> None:
        self.links.extend(association_pair(self.portal, from_type, from_id, to_id, type_id))
        if len(self.links) >= FLUSH:
            self.flush()

    def flush(self) -> None:
        SandboxRecord.objects.bulk_create(self.records, batch_size=FLUSH)
        SandboxAssociation.objects.bulk_create(self.links, batch_size=FLUSH)
        self.records, self.links = [], []


def seed(companies: int, random_seed: int, account_id: str | None = None) -> str:
    rng = random.Random(random_seed)
    account_id = account_id or schema.DEFAULT_ACCOUNT
    # Times hang off today's midnight, so a seed gives the same data all day and nothing is in the future.
    today = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)

    def moment(days_back: float) -> dt.datetime:
        return (today - dt.timedelta(days=days_back)).replace(microsecond=rng.randrange(1000) * 1000)

    with transaction.atomic():
        account, _ = SandboxAccount.objects.update_or_create(
            crm=schema.CRM, account_id=account_id, defaults={"user_email": schema.DEFAULT_USER}
        )
        if not account.name and account_id == schema.DEFAULT_ACCOUNT:
            account.name = schema.DEFAULT_NAME
            account.save(update_fields=["name"])
        mine = {"crm": schema.CRM, "account_id": account_id}
        SandboxAssociation.objects.filter(**mine).delete()
        SandboxRecord.objects.filter(**mine).delete()
        SandboxProperty.objects.filter(**mine).delete()
        SandboxProperty.objects.bulk_create(
            SandboxProperty(crm=schema.CRM, account_id=account_id, object_type=obj, name=name, label=label,
                            type=kind, field_type=field, options=options)
            for obj, name, label, kind, field, options in CUSTOM_PROPERTIES
        )  # fmt: skip
        writer = _Writer(account_id)
        company_ids: list[str] = []
        names: list[str] = []
        for n in range(companies):
            company_ids.append(_company(rng, writer, n, company_ids, names, moment))
        writer.flush()
        _owners(account_id, random.Random(random_seed + 1), moment)
    return (
        f"portal {account_id}: {writer.counts['companies']} companies, {writer.counts['contacts']} contacts, "
        f"{writer.counts['deals']} deals, "
        f"{sum(writer.counts[k] for k in KINDS)} engagements (replaced this portal's previous data; "
        "other portals are untouched)"
    )


def _company(
    rng: random.Random, writer: _Writer, n: int, earlier: list[str], names: list[str], moment: Moment
) -> str:
    if n and n % 500 == 0:  # now and then a duplicate of the previous company's name
        name = names[-1]
    elif n % 97 == 7:
        name = ODD_NAMES[(n // 97) % len(ODD_NAMES)]
    else:
        name = " ".join(w for w in (rng.choice(ROOTS), rng.choice(MIDDLES), rng.choice(SUFFIXES)) if w)
        if name in writer.names:  # mostly distinct names, as in a kept CRM
            name = f"{name} ({rng.choice(CITIES)[0] or 'HQ'})"
        if name in writer.names:
            name = f"{name} {n}"
    names.append(name)
    writer.names.add(name)
    slug = _ascii(name) or f"company{n}"
    domain = "" if rng.random() < 0.08 else f"{slug}{rng.choice(TLDS)}"
    if domain and rng.random() < 0.03:
        domain = f"WWW.{domain.upper()}"  # messy, as typed by a person
    city, country = rng.choice(CITIES)
    modified = moment(rng.uniform(0, 365))
    props: dict[str, Any] = {
        "name": name, "domain": domain, "website": f"https://{domain.lower()}" if domain else "",
        "lifecyclestage": "customer" if n < 3 else _pick(rng, STAGES), "industry": rng.choice(INDUSTRIES), "city": city, "country": country,
        "phone": f"+33 1 {rng.randint(10, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)}",
        "numberofemployees": str(rng.choice([3, 12, 40, 150, 800, 5000])),
        "annualrevenue": str(rng.choice([50_000, 250_000, 1_200_000, 15_000_000])),
        "customer_tier": rng.choice(["gold", "silver", "bronze", "", ""]),
    }  # fmt: skip
    # A chain three deep at the start (grandchild -> child -> top), then a parent now and then.
    parent = (
        earlier[n - 1] if n in (1, 2) else (rng.choice(earlier[3:]) if n > 10 and rng.random() < 0.04 else "")
    )
    if parent:
        props["hs_parent_company_id"] = parent
    created = modified - dt.timedelta(days=rng.uniform(0, 1000))
    company = writer.add("companies", props, created=created, modified=modified)
    if parent:
        writer.link("companies", company, parent, schema.CHILD_TO_PARENT)
    contacts = [
        _contact(rng, writer, company, domain, moment)
        for _ in range(rng.choices(range(7), [8, 14, 20, 20, 16, 12, 10])[0])
    ]
    for _ in range(rng.choices(range(3), [25, 55, 20])[0]):
        _deal(rng, writer, company, name, props["lifecyclestage"], moment)
    for i in range(max(rng.randint(0, 10), n == 0)):
        _engagement(rng, writer, company, contacts, moment, long_note=n == 0 and i == 0)
    return company


def _contact(
    rng: random.Random, writer: _Writer, company: str, domain: str, moment: Moment
) -> tuple[str, str]:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    local = f"{_ascii(first) or 'contact'}.{_ascii(last) or rng.randint(1, 999)}"
    roll = rng.random()
    if roll < 0.07:
        email = ""
    elif roll < 0.17 or not domain:
        email = f"{local}{rng.randint(1, 99)}@gmail.com"
    else:
        email = f"{local}@{domain.lower().removeprefix('www.')}"
        if roll > 0.97:
            email = email.upper()
    modified = moment(rng.uniform(0, 365))
    props = {
        "email": email, "firstname": first, "lastname": last, "jobtitle": rng.choice(TITLES),
        "phone": rng.choice(["", f"+44 20 7{rng.randint(100, 999)} {rng.randint(1000, 9999)}", f"06{rng.randint(10**7, 10**8 - 1)}"]),
        "hs_buying_role": _pick(rng, ROLES), "lifecyclestage": "customer", "associatedcompanyid": company,
    }  # fmt: skip
    contact = writer.add(
        "contacts", props, created=modified - dt.timedelta(days=rng.uniform(0, 700)), modified=modified
    )
    writer.link("contacts", contact, company, schema.ASSOCIATION_TYPES[("contacts", "companies")])
    return contact, email


def _deal(rng: random.Random, writer: _Writer, company: str, name: str, stage: str, moment: Moment) -> None:
    pipeline = "default" if rng.random() < 0.75 else "8675309"
    won = rng.random() < (0.65 if stage in ("customer", "evangelist") else 0.1)
    closed = moment(rng.uniform(0, 365))
    props: dict[str, Any] = {
        "dealname": f"{name.strip()} – {rng.choice(PLANS)} {closed.year}", "pipeline": pipeline,
        "dealstage": WON_STAGE[pipeline] if won else rng.choice(OPEN_STAGES[pipeline]),
        "deal_currency_code": rng.choice(["EUR", "EUR", "USD"]), "closedate": iso(closed),
        "amount": rng.choice([str(rng.randrange(12, 1200) * 100), f"{rng.randrange(100, 99999)}.50", ""]),
    }  # fmt: skip
    props["hs_is_closed_won"] = "true" if props["dealstage"] in schema.WON_STAGES else "false"
    if won:
        start = closed.date()
        months = rng.choice([12, 12, 12, 24, 36])
        end_month = start.month - 1 + months
        end = start.replace(
            year=start.year + end_month // 12, month=end_month % 12 + 1, day=min(start.day, 28)
        )
        props.update(
            contract_start_date=start.isoformat(), contract_end_date=end.isoformat(),
            contract_duration_months=str(months), notice_period_months=rng.choice(["1", "2", "3", ""]),
            tacit_renewal=rng.choice(["true", "false", ""]),
        )  # fmt: skip
    modified = min(closed + dt.timedelta(days=rng.uniform(0, 30)), moment(0))
    deal = writer.add(
        "deals", props, created=closed - dt.timedelta(days=rng.uniform(10, 90)), modified=modified
    )
    writer.link("deals", deal, company, schema.ASSOCIATION_TYPES[("deals", "companies")])


def _engagement(rng: random.Random, writer: _Writer, company: str, contacts: list[tuple[str, str]], moment: Moment,
                *, long_note: bool) -> None:  # fmt: skip
    kind = "notes" if long_note else _pick(rng, KINDS)
    when = moment(rng.uniform(0, 365))
    contact, email = rng.choice(contacts) if contacts and rng.random() < 0.7 else ("", "")
    subject = rng.choice(SUBJECTS).format(n=rng.randint(1000, 9999))
    props: dict[str, Any] = {"hs_timestamp": iso(when)}
    if kind == "emails":
        direction = _pick(rng, {"INCOMING_EMAIL": 45, "EMAIL": 50, "FORWARDED_EMAIL": 5})
        ours, theirs = "csm@skalin-demo.test", email or "someone@unknown.test"
        props.update(
            hs_email_subject=subject, hs_email_direction=direction,
            hs_email_text=f"Hello,\n\nAbout {subject.lower()}: let us talk this week.\n\nBest regards",
            hs_email_from_email=theirs if direction == "INCOMING_EMAIL" else ours,
            hs_email_to_email=ours if direction == "INCOMING_EMAIL" else theirs,
        )  # fmt: skip
    elif kind == "meetings":
        props.update(
            hs_meeting_title=subject, hs_meeting_body=f"<p>Agenda: {subject}</p>",
            hs_meeting_start_time=iso(when), hs_meeting_end_time=iso(when + dt.timedelta(minutes=rng.choice([30, 60]))),
        )  # fmt: skip
    elif kind == "calls":
        props.update(
            hs_call_title=f"Call: {subject}", hs_call_body="<p>Discussed usage and next steps.</p>",
            hs_call_direction=rng.choice(["INBOUND", "OUTBOUND"]), hs_call_duration=str(rng.randint(30, 3600) * 1000),
        )  # fmt: skip
    else:
        body = (
            "<p>" + "Very long meeting minutes. " * 2300 + "</p>"
            if long_note
            else f"<p>{subject}: follow up.</p>"
        )
        props.update(hs_note_body=body)
    modified = min(when + dt.timedelta(hours=rng.uniform(0, 48)), moment(0))
    engagement = writer.add(kind, props, created=when, modified=modified)
    writer.link(kind, engagement, company, schema.ASSOCIATION_TYPES[(kind, "companies")])
    if contact:
        writer.link(kind, engagement, contact, schema.ASSOCIATION_TYPES[(kind, "contacts")])


# The portal's users (HubSpot "owners"). Two are the demo workspace's CSMs, so the demo's owner mapping finds
# them; the third is nobody in Skalin, so the run reports it and keeps the current owner.
OWNERS = [
    ("901", "camille@demo-saas.test", "Camille", "Durand"),
    ("902", "sam@demo-saas.test", "Sam", "Keller"),
    ("903", "lea.martin@sandbox-hubspot.test", "Léa", "Martin"),
]


def _owners(portal: str, rng: random.Random, moment: Moment) -> None:
    """Owners, and a CSM owner on most companies (the demo maps `hubspot_owner_id` to the CSM owner)."""
    created = moment(400)
    SandboxRecord.objects.bulk_create(
        SandboxRecord(
            crm=schema.CRM, account_id=portal, object_type="owners", external_id=owner_id, created_at=created, updated_at=created,
            properties={"id": owner_id, "email": email, "firstName": first, "lastName": last,
                        "userId": int(owner_id) * 10},
        )
        for owner_id, email, first, last in OWNERS
    )  # fmt: skip
    companies = list(records(portal, "companies").only("id", "properties"))
    for company in companies:
        pick = rng.random()
        if pick < 0.45:
            company.properties["hubspot_owner_id"] = OWNERS[0][0]
        elif pick < 0.8:
            company.properties["hubspot_owner_id"] = OWNERS[1][0]
        elif pick < 0.85:
            company.properties["hubspot_owner_id"] = OWNERS[2][0]
    SandboxRecord.objects.bulk_update(companies, ["properties"], batch_size=FLUSH)
