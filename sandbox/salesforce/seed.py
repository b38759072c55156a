"""Fill a fake org with realistic, messy data: repeatable for a given random seed, idempotent per org.

Messy on purpose: missing websites, two accounts sharing one, a 3-level parent chain, Unicode, quotes,
backslashes and HTML in names, contacts without email, won deals without amount, activities over a year."""

from __future__ import annotations

import datetime as dt
import random
import unicodedata
from collections import Counter
from typing import Any, cast

from django.db import transaction
from django.utils import timezone

from ..common import account_for
from ..models import SandboxAccount, SandboxProperty, SandboxRecord
from .schema import CRM, DEFAULT_ORG, DEFAULT_USER_EMAIL, ORG_KEY, format_datetime, make_id, stamp
from .store import records

CUSTOM_FIELDS = [
    # (object, API name, label, describe type, picklist values / referenced object)
    ("Account", "Skalin_Healthscore__c", "Skalin Healthscore", "double", None),
    ("Account", "Skalin_CSM_Pulse__c", "Skalin CSM Pulse", "double", None),
    ("Account", "CSM__c", "Customer Success Manager", "reference", "User"),
    ("Contact", "Skalin_Role__c", "Skalin Role", "picklist", ["Champion", "Sponsor", "Key user", "End user"]),
    ("Opportunity", "Contract_Start__c", "Contract Start", "date", None),
    ("Opportunity", "Contract_End__c", "Contract End", "date", None),
    ("Opportunity", "Notice_Months__c", "Notice (months)", "double", None),
    ("Opportunity", "Tacit_Renewal__c", "Tacit Renewal", "boolean", None),
]
LIST_VIEWS = [
    # (object, developer name, label, where, columns)
    (
        "Account",
        "AllAccounts",
        "All Accounts",
        "",
        ["Name", "Type", "Website", "Id", "CreatedDate", "SystemModstamp"],
    ),
    (
        "Account",
        "Customers",
        "Customers",
        "Type = 'Customer'",
        ["Name", "Type", "Website", "Id", "SystemModstamp"],
    ),
    (
        "Contact",
        "SkalinContacts",
        "Skalin Contacts",
        "Skalin_Role__c != null",
        ["Name", "Email", "Title", "Skalin_Role__c", "Id", "SystemModstamp"],
    ),
]
USERS = [("Ada", "Admin"), ("Camille", "Martin"), ("Bilal", "Nguyen")]
BRANDS = [
    "Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Wonka", "Soylent", "Tyrell",
    "Cyberdyne", "Aperture", "Vandelay", "Oscorp", "Massive Dynamic", "Pied Piper", "Nakatomi", "Duff",
]  # fmt: skip
SUFFIXES = ["Corp", "Inc.", "SAS", "GmbH", "Ltd", "Group", "Labs", "Systems", "Industries", "& Co"]
ODD_NAMES = [
    "Société Générale d'Études",
    "O'Reilly Media",
    "Müller & Söhne GmbH",
    "株式会社さくらソフト",
    "<b>Bold</b> & <i>Brash</i> Ltd",
    "Ærøskøbing Fiskeri ApS",
    "Back\\slash Consulting",
    "Rocket 🚀 Analytics",
    "  Spaced   Out  Inc  ",
]
FIRST_NAMES = [
    "Zoë",
    "François",
    "Łukasz",
    "Søren",
    "José",
    "Chloé",
    "Anaïs",
    "Björn",
    "Emma",
    "Liam",
    "Noah",
    "美咲",
]
LAST_NAMES = [
    "Dupont",
    "O'Brien",
    "García",
    "Nowak",
    "Smith",
    "Müller",
    "Lefèvre",
    "Kowalski",
    "Tanaka",
    "Rossi",
]
TITLES = ["CEO", "CTO", "Head of Operations", "Office Manager", "Developer", "VP Sales", None]
ROLES = ["Champion", "Sponsor", "Key user", "End user"]
INDUSTRIES = ["Software", "Retail", "Manufacturing", "Finance", None]
COUNTRIES = ["France", "Germany", "United Kingdom", "Spain", "Japan", "United States"]
SUBJECTS = [
    "Quarterly business review",
    "Renewal discussion",
    "Onboarding check-in",
    "Feature request",
    "Invoice question",
]


def slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return "".join(char for char in ascii_text if char.isalnum())


class Seeder:
    def __init__(self, org: str, rng: random.Random, anchor: dt.datetime) -> None:
        self.org, self.rng, self.anchor = org, rng, anchor
        self.numbers: Counter[str] = Counter()
        self.pending: list[SandboxRecord] = []
        self.created: Counter[str] = Counter()

    def add(
        self,
        sobject: str,
        props: dict[str, Any],
        *,
        created: dt.datetime,
        modified: dt.datetime | None = None,
    ) -> str:
        self.numbers[sobject] += 1
        record_id = make_id(sobject, self.org, self.numbers[sobject])
        modified = modified or created
        self.pending.append(
            SandboxRecord(
                crm=CRM,
                account_id=self.org,
                object_type=sobject,
                external_id=record_id,
                properties={
                    ORG_KEY: self.org,
                    "Id": record_id,
                    "IsDeleted": False,
                    "CreatedDate": format_datetime(created),
                    "LastModifiedDate": format_datetime(modified),
                    "SystemModstamp": format_datetime(modified),
                    **props,
                },
                created_at=created,
                updated_at=modified,
            )
        )
        self.created[sobject] += 1
        if len(self.pending) >= 1000:
            self.flush()
        return record_id

    def flush(self) -> None:
        SandboxRecord.objects.bulk_create(self.pending, batch_size=1000)
        self.pending = []

    def past(self, max_days: int, min_days: int = 0) -> dt.datetime:
        seconds = self.rng.randint(min_days * 86400, max_days * 86400)
        return stamp(self.anchor - dt.timedelta(seconds=seconds))

    def between(self, start: dt.datetime, end: dt.datetime) -> dt.datetime:
        span = max(0, int((end - start).total_seconds()))
        return stamp(start + dt.timedelta(seconds=self.rng.randint(0, span)))


def _ensure_schema() -> None:
    for sobject, name, label, type_, extra in CUSTOM_FIELDS:
        SandboxProperty.objects.update_or_create(
            crm=CRM,
            object_type=sobject,
            name=name,
            defaults={
                "label": label,
                "type": type_,
                "field_type": extra if isinstance(extra, str) else "",
                "options": extra if isinstance(extra, list) else [],
            },
        )


def _account_name(index: int, rng: random.Random) -> str:
    if 3 <= index < 3 + len(ODD_NAMES):
        return ODD_NAMES[index - 3]
    return f"{rng.choice(BRANDS)} {rng.choice(SUFFIXES)} {index}"


def seed(companies: int, random_seed: int, account_id: str | None = None) -> str:
    org = account_id or DEFAULT_ORG
    account = account_for(CRM, org)
    if account.user_email == SandboxAccount._meta.get_field("user_email").get_default():
        account.user_email = DEFAULT_USER_EMAIL
        account.save(update_fields=["user_email"])
    _ensure_schema()
    existing = records(org, "Account").count()
    if existing:
        return f"org {org} already holds {existing} accounts; nothing added (log in as {account.user_email})"

    rng = random.Random(random_seed)
    anchor = stamp(timezone.now().replace(hour=0, minute=0, second=0, microsecond=0))
    seeder = Seeder(org, rng, anchor)
    with transaction.atomic():
        users = _users(seeder, account.user_email)
        _list_views(seeder)
        record_types = [
            seeder.add(
                "RecordType",
                {
                    "Name": name,
                    "DeveloperName": name.replace(" ", "_"),
                    "SobjectType": "Opportunity",
                    "IsActive": True,
                },
                created=seeder.past(2000, 1500),
            )
            for name in ("New Business", "Renewal")
        ]
        accounts = _accounts(seeder, companies, users)
        for index, account_row in enumerate(accounts):
            contacts = _contacts(seeder, account_row, users)
            _deals(seeder, account_row, record_types, with_contract=index == 0)
            if account_row["Type"] != "Prospect":
                _activities(seeder, account_row, contacts, users)
        seeder.flush()
    counts = ", ".join(
        f"{seeder.created[name]} {name}"
        for name in ("Account", "Contact", "Opportunity", "Contract", "Task", "Event", "EmailMessage", "Note")
    )
    return f"org {org}: {counts} (log in as {account.user_email})"


def _users(seeder: Seeder, admin_email: str) -> list[dict[str, Any]]:
    users: list[dict[str, Any]] = []
    for index, (first, last) in enumerate(USERS):
        email = admin_email if index == 0 else f"{first}.{last}@sandbox-salesforce.test".lower()
        props: dict[str, Any] = {
            "Username": email,
            "Name": f"{first} {last}",
            "FirstName": first,
            "LastName": last,
            "Email": email,
            "IsActive": True,
        }
        props["Id"] = seeder.add("User", props, created=seeder.past(2000, 1500))
        users.append(props)
    return users


def _list_views(seeder: Seeder) -> None:
    for sobject, developer_name, label, where, columns in LIST_VIEWS:
        seeder.add(
            "ListView",
            {
                "SobjectType": sobject,
                "DeveloperName": developer_name,
                "Label": label,
                "Where": where,
                "Columns": columns,
            },
            created=seeder.past(2000, 1500),
        )


def _accounts(seeder: Seeder, companies: int, users: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rng, accounts = seeder.rng, cast(list[dict[str, Any]], [])
    for index in range(companies):
        name = _account_name(index, rng)
        domain = f"{slug(name)[:20] or 'company'}{index}.{rng.choice(['com', 'io', 'fr', 'de'])}"
        website: str | None = rng.choice(
            [f"https://www.{domain}", f"http://{domain}", domain, f"https://{domain}/en/"]
        )
        if rng.random() < 0.15:
            website = None
        elif index and index % 50 == 0:
            website = accounts[-1]["Website"]  # two accounts sharing a website: an ambiguous merge key
        kind = (
            "Customer"
            if index < 3
            else rng.choices(["Customer", "Prospect", "Former Customer"], [55, 30, 15])[0]
        )
        parent = None
        if index in (1, 2):
            parent = accounts[index - 1]["Id"]  # 0 <- 1 <- 2: a three-level chain
        elif index > 10 and rng.random() < 0.08:
            parent = rng.choice(accounts)["Id"]
        created = seeder.past(1500, 60)
        props: dict[str, Any] = {
            "Name": name,
            "Type": kind,
            "ParentId": parent,
            "Website": website,
            "Industry": rng.choice(INDUSTRIES),
            "Phone": f"+33 1 {rng.randint(10, 99)} {rng.randint(10, 99)} {rng.randint(1000, 9999)}"
            if rng.random() < 0.7
            else None,
            "BillingCity": rng.choice(["Paris", "Lyon", "Berlin", "London", "Tokyo", None]),
            "BillingCountry": rng.choice(COUNTRIES),
            "NumberOfEmployees": rng.choice([5, 12, 48, 150, 900, 12000, None]),
            "AnnualRevenue": rng.choice([None, 250000.0, 1200000.0, 35000000.0]),
            "Description": rng.choice(
                [None, "Key account", "Churn risk flagged by support\nsee ticket #123"]
            ),
            "OwnerId": rng.choice(users)["Id"],
            "CSM__c": rng.choice(users[1:])["Id"] if rng.random() < 0.7 else None,
            "Skalin_Healthscore__c": None,
            "Skalin_CSM_Pulse__c": None,
        }
        props["Id"] = seeder.add(
            "Account", props, created=created, modified=seeder.between(created, seeder.anchor)
        )
        props["_domain"] = domain
        accounts.append(props)
    return accounts


def _contacts(seeder: Seeder, account: dict[str, Any], users: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rng, contacts = seeder.rng, []
    count = rng.randint(1, 5) if account["Type"] == "Customer" else rng.randint(0, 2)
    for _ in range(count):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        email_domain = account["_domain"] if rng.random() < 0.85 else "gmail.com"
        email = f"{slug(first) or 'contact'}.{slug(last)}{rng.randint(1, 999)}@{email_domain}"
        created = seeder.past(1200, 30)
        props = {
            "AccountId": account["Id"],
            "FirstName": first,
            "LastName": last,
            "Name": f"{first} {last}",
            "Email": email if rng.random() > 0.15 else None,
            "Phone": f"+33 6 {rng.randint(10000000, 99999999)}" if rng.random() < 0.5 else None,
            "Title": rng.choice(TITLES),
            "Department": rng.choice(["Operations", "IT", "Finance", None]),
            "OwnerId": account["OwnerId"],
            "Skalin_Role__c": rng.choice(ROLES) if rng.random() < 0.4 else None,
        }
        props["Id"] = seeder.add(
            "Contact", props, created=created, modified=seeder.between(created, seeder.anchor)
        )
        contacts.append(props)
    return contacts


def _deals(seeder: Seeder, account: dict[str, Any], record_types: list[str], *, with_contract: bool) -> None:
    rng = seeder.rng
    won = {"Customer": rng.randint(1, 3), "Former Customer": 1, "Prospect": 0}[account["Type"]]
    stages = ["Closed Won"] * won + rng.choice([[], ["Closed Lost"], ["Negotiation/Review"]])
    for number, stage in enumerate(stages):
        close = seeder.past(
            900 if account["Type"] == "Former Customer" else 700,
            400 if account["Type"] == "Former Customer" else 5,
        )
        start = (close + dt.timedelta(days=rng.randint(0, 30))).date()
        props = {
            "AccountId": account["Id"],
            "Name": f"{account['Name'].strip()} - {rng.choice(['Starter', 'Growth', 'Enterprise'])} {number + 1}",
            "Amount": None if rng.random() < 0.1 else float(rng.randrange(1200, 120000, 100)),
            "CloseDate": close.date().isoformat(),
            "StageName": stage,
            "IsWon": stage == "Closed Won",
            "IsClosed": stage.startswith("Closed"),
            "Type": "New Business" if number == 0 else "Renewal",
            "RecordTypeId": record_types[0 if number == 0 else 1],
            "OwnerId": account["OwnerId"],
            "Contract_Start__c": start.isoformat() if stage == "Closed Won" else None,
            "Contract_End__c": (start + dt.timedelta(days=364)).isoformat()
            if stage == "Closed Won" and rng.random() < 0.8
            else None,
            "Notice_Months__c": rng.choice([1.0, 2.0, 3.0, None]),
            "Tacit_Renewal__c": rng.random() < 0.6,
        }
        seeder.add(
            "Opportunity", props, created=close - dt.timedelta(days=rng.randint(10, 90)), modified=close
        )
    if account["Type"] == "Customer" and (rng.random() < 0.15 or with_contract):
        start = seeder.past(600, 10).date()
        term = rng.choice([12, 24, 36])
        end_month = start.month - 1 + term
        end = dt.date(start.year + end_month // 12, end_month % 12 + 1, 1) - dt.timedelta(days=1)
        seeder.add(
            "Contract",
            {
                "AccountId": account["Id"],
                "ContractNumber": f"{seeder.numbers['Contract'] + 100:08d}",
                "StartDate": start.isoformat(),
                "EndDate": end.isoformat(),
                "ContractTerm": term,
                "Status": "Activated",
                "OwnerExpirationNotice": rng.choice(["30", "60", "90", None]),
                "Description": None,
                "OwnerId": account["OwnerId"],
            },
            created=stamp(dt.datetime.combine(start, dt.time(9), tzinfo=dt.UTC)),
        )


def _activities(
    seeder: Seeder, account: dict[str, Any], contacts: list[dict[str, Any]], users: list[dict[str, Any]]
) -> None:
    rng = seeder.rng
    for _ in range(rng.randint(0, 6)):
        when = seeder.past(365)
        contact = rng.choice(contacts) if contacts and rng.random() < 0.8 else None
        owner = rng.choice(users)
        subject = rng.choice(SUBJECTS)
        common = {
            "WhatId": account["Id"],
            "WhoId": contact["Id"] if contact else None,
            "AccountId": account["Id"],
            "OwnerId": owner["Id"],
        }
        kind = rng.choice(["email", "call", "task", "meeting", "message", "note"])
        if kind in ("email", "call", "task"):
            props = {
                **common,
                "Subject": {"email": f"Email: {subject}", "call": f"Call: {subject}", "task": subject}[kind],
                "Description": rng.choice(
                    ["", "Discussed next steps.", "<p>HTML <b>body</b></p>", "Long notes. " * 400]
                ),
                "ActivityDate": when.date().isoformat(),
                "Status": "Completed",
                "Priority": "Normal",
                "TaskSubtype": {"email": "Email", "call": "Call", "task": "Task"}[kind],
                "CallType": rng.choice(["Inbound", "Outbound"]) if kind == "call" else None,
                "CallDurationInSeconds": rng.randint(60, 3600) if kind == "call" else None,
            }
            seeder.add("Task", props, created=when)
        elif kind == "meeting":
            minutes = rng.choice([30, 45, 60])
            props = {
                **common,
                "Subject": subject,
                "Description": rng.choice([None, "Agenda: roadmap, adoption, renewal"]),
                "StartDateTime": format_datetime(when),
                "ActivityDateTime": format_datetime(when),
                "EndDateTime": format_datetime(when + dt.timedelta(minutes=minutes)),
                "DurationInMinutes": minutes,
                "ActivityDate": when.date().isoformat(),
                "Location": rng.choice([None, "Zoom", "Client office"]),
            }
            seeder.add("Event", props, created=when - dt.timedelta(days=2))
        elif kind == "message":
            incoming = rng.random() < 0.5
            contact_email = (contact or {}).get("Email") or f"someone@{account['_domain']}"
            props = {
                "Subject": f"Re: {subject}" if incoming else subject,
                "TextBody": rng.choice(
                    ["Hello,\nThanks for the call.", "Bonjour,\nMerci pour l'échange !", ""]
                ),
                "HtmlBody": None,
                "FromAddress": contact_email if incoming else owner["Email"],
                "FromName": (contact or {}).get("Name") if incoming else owner["Name"],
                "ToAddress": owner["Email"] if incoming else contact_email,
                "Incoming": incoming,
                "MessageDate": format_datetime(when),
                "Status": "0" if incoming else "3",
                "RelatedToId": account["Id"],
                "ActivityId": None,
            }
            seeder.add("EmailMessage", props, created=when)
        else:
            props = {
                "ParentId": account["Id"],
                "Title": rng.choice(["Call recap", "Pricing concerns", "Champion left the company"]),
                "Body": rng.choice(["Short note.", "Multi-line\nnote\nwith details", "Notes " * 2000]),
                "IsPrivate": False,
                "OwnerId": owner["Id"],
            }
            seeder.add("Note", props, created=when)
