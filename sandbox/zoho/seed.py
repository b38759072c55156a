"""Fill a fake Zoho org with realistic, messy data: repeatable for a given random seed, idempotent per org.

Messy on purpose: account types Customer / Prospect / Partner (and none), a multi-select picklist, tags,
Parent_Account chains up to three levels, missing and shared websites, Unicode and quotes in names,
contacts without email, won deals with custom contract fields (some without refId or amount), and notes,
calls and meetings spread over a year. Built with bulk inserts: 20,000 accounts take seconds."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from django.db import transaction
from django.utils import timezone

from ..common import account_for
from ..models import SandboxRecord
from .store import CRM, DEFAULT_ORG, DEFAULT_USER_EMAIL, ORG_KEY, define, id_block, records, stamp

ACCOUNT_TYPES = ["Customer", "Prospect", "Partner", "Reseller", "Competitor", "Other"]
SEGMENTS = ["SMB", "Mid-Market", "Enterprise", "EMEA", "North America", "APAC"]
TAGS = ["VIP", "Renewal 2026", "At risk", "Reference"]
STAGES = ["Qualification", "Needs Analysis", "Negotiation/Review", "Closed Won", "Closed Lost"]
FIELDS: dict[str, list[tuple[str, str, str, list[str] | None]]] = {
    # module: (api name, label, data_type, picklist values)
    "Accounts": [
        ("id", "Record Id", "bigint", None), ("Account_Name", "Account Name", "text", None),
        ("Website", "Website", "website", None), ("Phone", "Phone", "phone", None),
        ("Account_Type", "Account Type", "picklist", ACCOUNT_TYPES), ("Industry", "Industry", "picklist",
        ["Software", "Retail", "Banking", "Manufacturing", "Health"]),
        ("Parent_Account", "Parent Account", "lookup", None), ("Owner", "Account Owner", "ownerlookup", None),
        ("Tag", "Tag", "text", None), ("Segments", "Segments", "multiselectpicklist", SEGMENTS),
        ("Customer_Since", "Customer Since", "date", None), ("CSM", "CSM", "userlookup", None),
        ("Created_Time", "Created Time", "datetime", None), ("Modified_Time", "Modified Time", "datetime", None),
    ],
    "Contacts": [
        ("id", "Record Id", "bigint", None), ("First_Name", "First Name", "text", None),
        ("Last_Name", "Last Name", "text", None), ("Email", "Email", "email", None),
        ("Phone", "Phone", "phone", None), ("Title", "Title", "text", None),
        ("Account_Name", "Account Name", "lookup", None), ("Owner", "Contact Owner", "ownerlookup", None),
        ("Contact_Role", "Contact Role", "picklist", ["Champion", "Sponsor", "Key user", "End user"]),
        ("Tag", "Tag", "text", None), ("Created_Time", "Created Time", "datetime", None),
        ("Modified_Time", "Modified Time", "datetime", None),
    ],
    "Deals": [
        ("id", "Record Id", "bigint", None), ("Deal_Name", "Deal Name", "text", None),
        ("Stage", "Stage", "picklist", STAGES), ("Amount", "Amount", "currency", None),
        ("Closing_Date", "Closing Date", "date", None), ("Account_Name", "Account Name", "lookup", None),
        ("Pipeline", "Pipeline", "picklist", ["Standard", "Renewals"]), ("Owner", "Deal Owner", "ownerlookup", None),
        ("Contract_Ref", "Contract Ref", "text", None), ("Contract_Start", "Contract Start", "date", None),
        ("Contract_End", "Contract End", "date", None), ("Notice_Months", "Notice (months)", "integer", None),
        ("MRR", "MRR", "currency", None), ("Created_Time", "Created Time", "datetime", None),
        ("Modified_Time", "Modified Time", "datetime", None),
    ],
    "Notes": [
        ("id", "Record Id", "bigint", None), ("Note_Title", "Note Title", "text", None),
        ("Note_Content", "Note Content", "textarea", None), ("Parent_Id", "Parent Id", "lookup", None),
        ("Owner", "Note Owner", "ownerlookup", None), ("Created_Time", "Created Time", "datetime", None),
        ("Modified_Time", "Modified Time", "datetime", None),
    ],
    "Calls": [
        ("id", "Record Id", "bigint", None), ("Subject", "Subject", "text", None),
        ("Description", "Description", "textarea", None),
        ("Call_Type", "Call Type", "picklist", ["Outbound", "Inbound", "Missed"]),
        ("Call_Start_Time", "Call Start Time", "datetime", None), ("Call_Duration", "Call Duration", "text", None),
        ("What_Id", "Related To", "lookup", None), ("Who_Id", "Contact Name", "lookup", None),
        ("Owner", "Call Owner", "ownerlookup", None), ("Created_Time", "Created Time", "datetime", None),
        ("Modified_Time", "Modified Time", "datetime", None),
    ],
    "Events": [
        ("id", "Record Id", "bigint", None), ("Event_Title", "Title", "text", None),
        ("Description", "Description", "textarea", None), ("Start_DateTime", "From", "datetime", None),
        ("End_DateTime", "To", "datetime", None), ("What_Id", "Related To", "lookup", None),
        ("Who_Id", "Contact Name", "lookup", None), ("Owner", "Host", "ownerlookup", None),
        ("Created_Time", "Created Time", "datetime", None), ("Modified_Time", "Modified Time", "datetime", None),
    ],
}  # fmt: skip
USERS = [("Ada", "Admin", DEFAULT_USER_EMAIL), ("Camille", "Martin", "camille@zoho-sandbox.test"),
         ("Bilal", "Nguyen", "bilal@zoho-sandbox.test")]  # fmt: skip
BRANDS = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Wonka", "Soylent", "Tyrell",
          "Cyberdyne", "Aperture", "Vandelay", "Oscorp", "Pied Piper", "Nakatomi", "Duff", "Gringotts"]  # fmt: skip
ODD_NAMES = ["Société Générale d'Études", "Müller & Söhne GmbH", "株式会社サンプル", "O'Reilly \"Media\"",
             "Åsa Ström AB", "Zürich Ärzte", "Café <b>Crème</b>", "Back\\slash Ltd", "  Spaced   Out  "]  # fmt: skip
SUFFIXES = ["Inc", "SAS", "Ltd", "GmbH", "Group", "Labs", "Holdings", ""]
FIRST = ["Alice", "Bruno", "Chloé", "Dmitri", "Élodie", "Fatima", "Grégoire", "Hiro", "Inès", "José", "Kåre"]
LAST = ["Martin", "Bernard", "Dubois", "Nguyễn", "O'Brien", "Müller", "Rossi", "Sato", "García", "Kowalski"]


def _domain(name: str, index: int) -> str:
    slug = "".join(ch for ch in name.lower() if ch.isascii() and ch.isalnum())
    return f"{slug or 'company'}{index}.example.com"


@transaction.atomic
def seed(companies: int = 200, random_seed: int = 7, account_id: str | None = None) -> str:
    org = account_id or DEFAULT_ORG
    rng = random.Random(random_seed)
    account = account_for(CRM, org)
    if account.user_email != DEFAULT_USER_EMAIL:
        account.user_email = DEFAULT_USER_EMAIL
        account.save(update_fields=["user_email"])
    for module, specs in FIELDS.items():
        for name, label, data_type, values in specs:
            define(module, name, label, data_type, values, custom=name in ("Segments", "Customer_Since", "CSM",
                   "Contract_Ref", "Contract_Start", "Contract_End", "Notice_Months", "MRR", "Contact_Role"))  # fmt: skip
    # Idempotent per org: the org's records are replaced.
    for module in (*FIELDS, "users"):
        records(org, module).delete()
        records(org, module, deleted=True).delete()

    now = timezone.now()
    rows: list[tuple[str, dict[str, Any], dt.datetime, dt.datetime]] = []
    ids = iter(id_block(companies * 12 + 10))

    def add(
        module: str, props: dict[str, Any], when: dt.datetime, modified: dt.datetime | None = None
    ) -> str:
        record_id = next(ids)
        modified = modified or when
        full = {
            "id": record_id,
            **props,
            "Created_Time": stamp(when),
            "Modified_Time": stamp(modified),
            ORG_KEY: org,
        }
        rows.append((module, full, when, modified))
        return record_id

    users = []
    for first, last, mail in USERS:
        user_id = add("users", {"first_name": first, "last_name": last, "full_name": f"{first} {last}",
                                "email": mail, "status": "active", "role": {"name": "CEO"}}, now)  # fmt: skip
        users.append({"name": f"{first} {last}", "id": user_id, "email": mail})

    accounts: list[tuple[str, str]] = []
    shared_site = "https://www.shared-site.example.com"
    for index in range(companies):
        created = now - dt.timedelta(days=rng.randint(30, 720), minutes=rng.randint(0, 1440))
        modified = created + dt.timedelta(days=rng.randint(0, 25))
        if index < len(ODD_NAMES) and companies >= 20:
            name = ODD_NAMES[index]
        else:
            name = f"{rng.choice(BRANDS)} {rng.choice(SUFFIXES)} {index}".replace("  ", " ").strip()
        kind = rng.choices(ACCOUNT_TYPES + [None], weights=[45, 25, 10, 4, 2, 4, 10])[0]
        website: str | None = f"https://www.{_domain(name, index)}"
        roll = rng.random()
        if roll < 0.12:
            website = None
        elif roll < 0.15:
            website = shared_site
        props: dict[str, Any] = {
            "Account_Name": name,
            "Website": website,
            "Phone": rng.choice(
                [None, f"+33 1 {rng.randint(10, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)}"]
            ),
            "Account_Type": kind,
            "Industry": rng.choice(["Software", "Retail", "Banking", "Manufacturing", "Health", None]),
            "Parent_Account": None,
            "Owner": rng.choice(users),
            "Tag": [
                {"name": t, "id": str(9000 + TAGS.index(t))}
                for t in rng.sample(TAGS, rng.choice([0, 0, 1, 2]))
            ],
            "Segments": rng.sample(SEGMENTS, rng.choice([0, 1, 2, 2, 3])),
            "Customer_Since": (created.date() + dt.timedelta(days=30)).isoformat()
            if kind == "Customer"
            else None,
            "CSM": rng.choice([None, *({"name": u["name"], "id": u["id"]} for u in users)]),
        }
        record_id = add("Accounts", props, created, modified)
        accounts.append((record_id, name))
    by_id = {props["id"]: props for module, props, _, _ in rows if module == "Accounts"}
    # Parent chains: a three-level one first, then some two-level ones.
    if len(accounts) >= 3:
        top, middle, leaf = accounts[0], accounts[1], accounts[2]
        by_id[middle[0]]["Parent_Account"] = {"name": top[1], "id": top[0]}
        by_id[leaf[0]]["Parent_Account"] = {"name": middle[1], "id": middle[0]}
    for record_id, _ in accounts[3:]:
        if rng.random() < 0.08:
            parent = rng.choice(accounts[: max(3, len(accounts) // 5)])
            if parent[0] != record_id:
                by_id[record_id]["Parent_Account"] = {"name": parent[1], "id": parent[0]}

    contacts = deals = activities = 0
    heavy = companies > 2000  # keep 20,000 accounts quick: fewer activities each
    for record_id, name in accounts:
        account_ref = {"name": name, "id": record_id}
        people = []
        for _ in range(rng.choice([0, 1, 2, 2, 3, 4])):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            email = (
                None
                if rng.random() < 0.2
                else f"{first.lower()}.{contacts}@{_domain(name, 0)}".replace("é", "e")
            )
            when = now - dt.timedelta(days=rng.randint(1, 600))
            contact_id = add("Contacts", {"First_Name": first if rng.random() > 0.05 else None, "Last_Name": last,
                                          "Email": email, "Phone": None, "Title": rng.choice(["CEO", "CTO", "Ops", None]),
                                          "Account_Name": account_ref, "Owner": rng.choice(users),
                                          "Contact_Role": rng.choice(["Champion", "Sponsor", "Key user", "End user", None]),
                                          "Tag": []}, when)  # fmt: skip
            people.append({"name": f"{first} {last}", "id": contact_id})
            contacts += 1
        for n in range(rng.choice([0, 1, 1, 2])):
            stage = rng.choices(STAGES, weights=[10, 10, 10, 55, 15])[0]
            closing = (now - dt.timedelta(days=rng.randint(0, 500))).date()
            won = stage == "Closed Won"
            add("Deals", {"Deal_Name": f"{name} – {'Renewal' if n else 'New business'}", "Stage": stage,
                          "Amount": None if rng.random() < 0.07 else float(rng.randint(5, 300) * 100),
                          "Closing_Date": closing.isoformat(), "Account_Name": account_ref,
                          "Pipeline": "Renewals" if n else "Standard", "Owner": rng.choice(users),
                          "Contract_Ref": f"CTR-{record_id[-6:]}-{n}" if won and rng.random() > 0.1 else None,
                          "Contract_Start": closing.isoformat() if won else None,
                          "Contract_End": (closing + dt.timedelta(days=365)).isoformat() if won else None,
                          "Notice_Months": rng.choice([1, 2, 3, None]) if won else None,
                          "MRR": float(rng.randint(1, 50) * 100) if won else None},
                now - dt.timedelta(days=rng.randint(0, 400)))  # fmt: skip
            deals += 1
        if heavy and rng.random() < 0.7:
            continue
        for _ in range(rng.choice([0, 1, 2, 3])):
            when = now - dt.timedelta(days=rng.randint(0, 365), hours=rng.randint(0, 23))
            owner = rng.choice(users)
            kind = rng.choice(["Notes", "Calls", "Events"])
            who = rng.choice(people) if people and rng.random() < 0.6 else None
            if kind == "Notes":
                props = {"Note_Title": rng.choice(["QBR", "Onboarding", None, "Escalation ⚠"]),
                         "Note_Content": f"Discussed roadmap with {name}.\nNext step: follow-up.",
                         "Parent_Id": {"module": {"api_name": "Accounts", "id": "6000000000001"}, **account_ref},
                         "Owner": owner}  # fmt: skip
            elif kind == "Calls":
                props = {"Subject": f"Call with {name}", "Description": rng.choice([None, "Renewal talk"]),
                         "Call_Type": rng.choice(["Outbound", "Inbound", "Missed"]), "Call_Start_Time": stamp(when),
                         "Call_Duration": "00:15", "What_Id": account_ref, "$se_module": "Accounts", "Who_Id": who,
                         "Owner": owner}  # fmt: skip
            else:
                props = {"Event_Title": f"Meeting – {name}", "Description": "Quarterly business review",
                         "Start_DateTime": stamp(when), "End_DateTime": stamp(when + dt.timedelta(hours=1)),
                         "What_Id": account_ref, "$se_module": "Accounts", "Who_Id": who, "Owner": owner}  # fmt: skip
            add(kind, props, when)
            activities += 1

    SandboxRecord.objects.bulk_create(
        (
            SandboxRecord(crm=CRM, account_id=org, object_type=module, external_id=props["id"],
                          properties=props, created_at=when, updated_at=modified)
            for module, props, when, modified in rows
        ),
        batch_size=2000,
    )  # fmt: skip
    customers = sum(1 for _, props, _, _ in rows if props.get("Account_Type") == "Customer")
    return (
        f"org {org}: {companies} accounts ({customers} of type Customer), {contacts} contacts, {deals} deals, "
        f"{activities} notes/calls/meetings"
    )
