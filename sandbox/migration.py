"""A HubSpot portal prepared for a migration from Salesforce, and the demo workspace that migrates to it.

`seed_migration_portal` fills the migration portal (its own HubSpot account, 87654321 "Northwind", next to the
demo portal 12345678) from a sandbox Salesforce org the way a company moving CRMs imports its data (the guide's "HubSpot preparation"): every account becomes a company carrying its
Salesforce Account Id in a custom property (`salesforce_account_id`, a real property the properties API
lists), with its contacts, won opportunities as closed-won deals and activities as engagements, all
associated. Lifecycle stages follow the account type; the companies Skalin should sync are also marked by a
"Sync to Skalin" checkbox (the guide's "Is To Synchronize" filter field). Some company names and domains
were changed on the way (so that name and domain alone cannot find them), a few customers exist only in
HubSpot, and a partner is a "customer" without the checkbox. Contacts without an email are left out, as
HubSpot imports deduplicate contacts by email.

Each sandbox HubSpot portal is its own data, so a connection to the demo portal never sees these companies;
the checkbox is the migration guide's filter, and the partner without it is the case that filter exists
for. The consent page's account chooser (or `?account=87654321`) connects this portal."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from customers.models import Customer, CustomerSource
from integrations.models import Connection, ObjectType, SyncMode
from integrations.services import object_setting_update, settings_create_defaults
from skalin.demo_data import DEMO_PASSWORD
from workspaces.models import Role, Workspace
from workspaces.services import membership_invite, user_get_or_create, workspace_create

from .common import issue_pair
from .hubspot import schema as hubspot
from .hubspot.seed import CUSTOM_PROPERTIES
from .hubspot.store import association_pair, iso, new_record, next_ids, now_ms
from .hubspot.store import records as hubspot_records
from .models import SandboxAccount, SandboxAssociation, SandboxProperty, SandboxRecord
from .salesforce import schema as salesforce
from .salesforce.oauth import instance_url
from .salesforce.seed import seed as seed_salesforce
from .salesforce.store import records as salesforce_records

MIGRATION_PORTAL = "87654321"
MIGRATION_USER = "admin@northwind-hubspot.test"
MIGRATION_PORTAL_NAME = "Northwind"
OLD_ID_PROPERTY = "salesforce_account_id"
SYNC_FLAG_PROPERTY = "sync_to_skalin"
STAGE_PROPERTY = "customer_stage"
PROPERTIES = [
    # (object, name, label, type, fieldType, options)
    ("companies", OLD_ID_PROPERTY, "Salesforce Account ID", "string", "text", []),
    ("companies", SYNC_FLAG_PROPERTY, "Sync to Skalin", "bool", "booleancheckbox",
     [{"label": "Yes", "value": "true", "displayOrder": 0, "hidden": False},
      {"label": "No", "value": "false", "displayOrder": 1, "hidden": False}]),
    ("companies", STAGE_PROPERTY, "Customer stage (from Skalin)", "string", "text", []),
]  # fmt: skip
LIFECYCLE_BY_TYPE = {"Customer": "customer", "Former Customer": "other", "Prospect": "opportunity"}
# How an import or a person changed some names: each differs from the Salesforce name after Skalin's own
# normalisation (NFKC, case folding, trimmed spaces).
RENAMES = (
    lambda name: f"{name} (EMEA)",
    lambda name: f"The {name}",
    lambda name: name.replace(" ", "-", 1) if " " in name.strip() else f"{name} HQ",
    lambda name: f"{name} Holding",
)
RENAME_EVERY = 3
HUBSPOT_ONLY = [
    # (name, domain, contacts, yearly amount): customers signed since the move, never in Salesforce
    ("Fjordline Analytics", "fjordline.io", ["ingrid.berg", "ola.nordmann"], "24000"),
    ("Lumen Health Partners", "lumenhealth.fr", ["claire.petit"], "18000"),
    ("Quarry Logistics", "quarrylogistics.de", ["jonas.weber", "mia.koch"], "9600"),
]
PARTNER = ("Channel Partner Network", "channelpartner.example")
ENGAGEMENT_OF_TASK = {"Email": "emails", "Call": "calls", "Task": "notes"}


@dataclass
class MigrationPortal:
    portal_id: str
    org_id: str
    created: bool
    companies: int = 0
    migrated_customers: int = 0
    renamed: int = 0
    hubspot_only: int = 0
    contacts: int = 0
    contacts_left_out: int = 0
    deals: int = 0
    engagements: int = 0

    def summary(self) -> str:
        if not self.created:
            return f"portal {self.portal_id} already holds the companies imported from Salesforce org {self.org_id}"
        return (
            f"portal {self.portal_id}: {self.companies} companies imported from Salesforce org {self.org_id} "
            f"({self.migrated_customers} customers to sync, {self.renamed} renamed on the way), "
            f"{self.hubspot_only} HubSpot-only customers, {self.contacts} contacts "
            f"({self.contacts_left_out} without email left out), {self.deals} won deals, "
            f"{self.engagements} engagements"
        )


def migrated_companies(portal_id: str = MIGRATION_PORTAL) -> QuerySet[SandboxRecord]:
    """The portal's companies that carry a Salesforce Account Id."""
    return hubspot_records(portal_id, "companies").filter(properties__has_key=OLD_ID_PROPERTY)


def ensure_properties(portal_id: str = MIGRATION_PORTAL) -> None:
    """The portal's custom properties, created once and kept."""
    for obj, name, label, kind, field_type, options in [*CUSTOM_PROPERTIES, *PROPERTIES]:
        SandboxProperty.objects.get_or_create(
            crm=hubspot.CRM,
            account_id=portal_id,
            object_type=obj,
            name=name,
            defaults={"label": label, "type": kind, "field_type": field_type, "options": options},
        )


class _Import:
    """Collects the records and associations of the import, with HubSpot ids after every portal's ones."""

    def __init__(self, portal_id: str, moment: dt.datetime) -> None:
        self.portal_id = portal_id
        self.moment = moment
        self.rows: dict[str, list[tuple[dict[str, Any], dt.datetime]]] = {}
        # (from type, row index, to type, row index): the HubSpot ids are only known when written.
        self.links: list[tuple[str, int, str, int]] = []

    def add(self, object_type: str, properties: dict[str, Any], created: dt.datetime) -> tuple[str, int]:
        rows = self.rows.setdefault(object_type, [])
        rows.append((properties, min(created, self.moment)))
        return object_type, len(rows) - 1

    def link(self, source: tuple[str, int], target: tuple[str, int]) -> None:
        self.links.append((source[0], source[1], target[0], target[1]))

    def write(self) -> dict[str, list[str]]:
        ids = {object_type: next_ids(object_type, len(rows)) for object_type, rows in self.rows.items()}
        records = []
        for object_type, rows in self.rows.items():
            for (properties, created), external_id in zip(rows, ids[object_type], strict=True):
                if object_type == "contacts" and "associatedcompanyid" in properties:
                    # Held the company's row index until now, like the links.
                    properties["associatedcompanyid"] = ids["companies"][properties["associatedcompanyid"]]
                records.append(
                    new_record(
                        self.portal_id, object_type, external_id, properties, created=created, modified=self.moment
                    )
                )
        SandboxRecord.objects.bulk_create(records, batch_size=2000)
        associations = []
        for from_type, from_index, to_type, to_index in self.links:
            associations.extend(
                association_pair(
                    self.portal_id,
                    from_type,
                    ids[from_type][from_index],
                    ids[to_type][to_index],
                    hubspot.ASSOCIATION_TYPES[(from_type, to_type)],
                )
            )
        SandboxAssociation.objects.bulk_create(associations, batch_size=2000, ignore_conflicts=True)
        return ids


def _when(value: Any, fallback: dt.datetime) -> dt.datetime:
    if not value:
        return fallback
    text = str(value)
    try:
        moment = (
            salesforce.parse_datetime(text)
            if "T" in text
            else dt.datetime.combine(dt.date.fromisoformat(text), dt.time(9), tzinfo=dt.UTC)
        )
    except ValueError:
        return fallback
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _domain(website: Any) -> str:
    text = str(website or "").strip().lower()
    for prefix in ("https://", "http://"):
        text = text.removeprefix(prefix)
    return text.removeprefix("www.").split("/")[0]


def seed_migration_portal(
    *, org_id: str = salesforce.DEFAULT_ORG, portal_id: str = MIGRATION_PORTAL
) -> MigrationPortal:
    """Import the org's accounts into the portal as a migrating company would. Once per portal: a second
    call finds the imported companies and adds nothing."""
    result = MigrationPortal(portal_id=portal_id, org_id=org_id, created=False)
    with transaction.atomic():
        SandboxAccount.objects.get_or_create(
            crm=hubspot.CRM,
            account_id=portal_id,
            defaults={"user_email": MIGRATION_USER, "name": MIGRATION_PORTAL_NAME},
        )
        ensure_properties(portal_id)
        if migrated_companies(portal_id).exists():
            return result
        result.created = True
        imported_at = import_moment()
        batch = _Import(portal_id, imported_at)
        _import_salesforce(batch, org_id, result)
        _hubspot_only_customers(batch, imported_at, result)
        batch.write()
    return result


def _import_salesforce(batch: _Import, org_id: str, result: MigrationPortal) -> None:
    accounts = sorted(salesforce_records(org_id, "Account"), key=lambda row: row.external_id)
    company_of: dict[str, tuple[str, int]] = {}
    contact_of: dict[str, tuple[str, int]] = {}
    for account in accounts:
        props = account.properties
        name, domain = str(props.get("Name") or "").strip(), _domain(props.get("Website"))
        kind = props.get("Type") or "Prospect"
        is_customer = kind == "Customer"
        if is_customer:
            result.migrated_customers += 1
            if result.migrated_customers % RENAME_EVERY == 2:
                name = RENAMES[result.renamed % len(RENAMES)](name)
                # A rebranded site, or none typed in: the domain cannot find the customer either.
                domain = f"{domain.split('.')[0]}-group.eu" if domain and result.renamed % 2 else ""
                result.renamed += 1
        imported = batch.add(
            "companies",
            {
                "name": name,
                "domain": domain,
                "website": f"https://{domain}" if domain else "",
                "lifecyclestage": LIFECYCLE_BY_TYPE.get(kind, "lead"),
                OLD_ID_PROPERTY: account.external_id,
                SYNC_FLAG_PROPERTY: "true" if is_customer else "false",
                "industry": "",
                "city": props.get("BillingCity") or "",
                "country": props.get("BillingCountry") or "",
                "phone": props.get("Phone") or "",
            },
            account.created_at,
        )
        company_of[account.external_id] = imported
        result.companies += 1
    for contact in salesforce_records(org_id, "Contact").order_by("external_id"):
        props = contact.properties
        owner = company_of.get(str(props.get("AccountId") or ""))
        if owner is None:
            continue
        email = str(props.get("Email") or "").strip().lower()
        if not email:
            result.contacts_left_out += 1
            continue
        row = batch.add(
            "contacts",
            {
                "email": email,
                "firstname": props.get("FirstName") or "",
                "lastname": props.get("LastName") or "",
                "jobtitle": props.get("Title") or "",
                "phone": props.get("Phone") or "",
                "lifecyclestage": "customer",
                "associatedcompanyid": owner[1],
            },
            contact.created_at,
        )
        batch.link(row, owner)
        contact_of[contact.external_id] = row
        result.contacts += 1
    for opportunity in salesforce_records(org_id, "Opportunity").order_by("external_id"):
        props = opportunity.properties
        company = company_of.get(str(props.get("AccountId") or ""))
        if company is None or not props.get("IsWon"):
            continue
        notice = props.get("Notice_Months__c")
        deal = batch.add(
            "deals",
            {
                "dealname": props.get("Name") or "",
                "amount": "" if props.get("Amount") is None else f"{props['Amount']:.2f}",
                "pipeline": "default",
                "dealstage": "closedwon",
                "hs_is_closed_won": "true",
                "closedate": iso(_when(props.get("CloseDate"), opportunity.created_at)),
                "deal_currency_code": "EUR",
                "contract_start_date": props.get("Contract_Start__c") or "",
                "contract_end_date": props.get("Contract_End__c") or "",
                "notice_period_months": "" if notice is None else str(int(notice)),
                "tacit_renewal": "true" if props.get("Tacit_Renewal__c") else "false",
            },
            opportunity.created_at,
        )
        batch.link(deal, company)
        result.deals += 1
    for sobject in ("Task", "Event", "EmailMessage", "Note"):
        for activity in salesforce_records(org_id, sobject).order_by("external_id"):
            if _engagement(batch, sobject, activity, company_of, contact_of):
                result.engagements += 1


def _engagement(batch: _Import, sobject: str, activity: SandboxRecord, company_of: dict[str, tuple[str, int]],
                contact_of: dict[str, tuple[str, int]]) -> bool:  # fmt: skip
    props = activity.properties
    account_id = props.get("AccountId") or props.get("RelatedToId") or props.get("ParentId") or ""
    company = company_of.get(str(account_id))
    if company is None:
        return False
    subject = str(props.get("Subject") or props.get("Title") or "")
    body = str(props.get("Description") or props.get("TextBody") or props.get("Body") or "")
    if sobject == "Task":
        kind = ENGAGEMENT_OF_TASK.get(str(props.get("TaskSubtype") or "Task"), "notes")
        when = _when(props.get("ActivityDate"), activity.created_at)
    elif sobject == "Event":
        kind, when = "meetings", _when(props.get("StartDateTime"), activity.created_at)
    elif sobject == "EmailMessage":
        kind, when = "emails", _when(props.get("MessageDate"), activity.created_at)
    else:
        kind, when = "notes", activity.created_at
    fields: dict[str, Any] = {"hs_timestamp": iso(when)}
    if kind == "emails":
        incoming = bool(props.get("Incoming"))
        fields.update(
            hs_email_subject=subject, hs_email_text=body,
            hs_email_direction="INCOMING_EMAIL" if incoming else "EMAIL",
            hs_email_from_email=props.get("FromAddress") or "", hs_email_to_email=props.get("ToAddress") or "",
        )  # fmt: skip
    elif kind == "calls":
        fields.update(
            hs_call_title=subject, hs_call_body=body,
            hs_call_direction="INBOUND" if props.get("CallType") == "Inbound" else "OUTBOUND",
            hs_call_duration=str(int(props.get("CallDurationInSeconds") or 0) * 1000),
        )  # fmt: skip
    elif kind == "meetings":
        end = _when(props.get("EndDateTime"), when + dt.timedelta(minutes=30))
        fields.update(hs_meeting_title=subject, hs_meeting_body=body, hs_meeting_start_time=iso(when),
                      hs_meeting_end_time=iso(end))  # fmt: skip
    else:
        fields.update(hs_note_body=f"{subject}: {body}" if subject and body else subject or body)
    row = batch.add(kind, fields, when)
    batch.link(row, company)
    contact = contact_of.get(str(props.get("WhoId") or ""))
    if contact is not None:
        batch.link(row, contact)
    return True


def _hubspot_only_customers(batch: _Import, moment: dt.datetime, result: MigrationPortal) -> None:
    signed = (moment - dt.timedelta(days=20)).date()
    for name, domain, people, amount in HUBSPOT_ONLY:
        company = batch.add(
            "companies",
            {"name": name, "domain": domain, "website": f"https://{domain}", "lifecyclestage": "customer",
             SYNC_FLAG_PROPERTY: "true"},
            moment - dt.timedelta(days=30),
        )  # fmt: skip
        for person in people:
            first, last = (part.title() for part in person.split("."))
            contact = batch.add(
                "contacts",
                {"email": f"{person}@{domain}", "firstname": first, "lastname": last, "lifecyclestage": "customer",
                 "associatedcompanyid": company[1]},
                moment - dt.timedelta(days=25),
            )  # fmt: skip
            batch.link(contact, company)
            result.contacts += 1
        deal = batch.add(
            "deals",
            {"dealname": f"{name} – Growth {signed.year}", "amount": amount, "pipeline": "default",
             "dealstage": "closedwon", "hs_is_closed_won": "true", "closedate": iso(moment - dt.timedelta(days=20)),
             "contract_start_date": signed.isoformat(), "contract_duration_months": "12",
             "notice_period_months": "2", "tacit_renewal": "true"},
            moment - dt.timedelta(days=40),
        )  # fmt: skip
        batch.link(deal, company)
        result.deals += 1
        result.companies += 1
        result.hubspot_only += 1
    partner_name, partner_domain = PARTNER
    batch.add(
        "companies",
        {"name": partner_name, "domain": partner_domain, "website": f"https://{partner_domain}",
         "lifecyclestage": "customer", SYNC_FLAG_PROPERTY: "false"},
        moment - dt.timedelta(days=300),
    )  # fmt: skip
    result.companies += 1


# ---- the demo's migrating workspace ---------------------------------------------------------------------

SALESFORCE_TOKEN_TTL = 7200


def configure_salesforce_source(*, connection: Connection) -> None:
    """The old connection as the migrating company had it: accounts of the "Customers" view, their
    contacts, won opportunities as agreements and every kind of activity; the Salesforce Id is the
    Customer ID. The Old CRM ID field is left for the migration assistant to add."""
    views = {
        row.properties.get("DeveloperName"): row.external_id
        for row in salesforce_records(connection.remote_account_id, "ListView")
    }
    if "Customers" not in views:
        raise RuntimeError(
            f"The sandbox Salesforce org {connection.remote_account_id} has no Customers view."
        )
    settings_create_defaults(connection=connection)
    object_setting_update(
        connection=connection,
        object_type=ObjectType.CUSTOMERS,
        mode=SyncMode.INPUT,
        options={"selection": {"list_view_id": views["Customers"]}, "churn_on_absence": True},
        mappings=[
            {"local_field": "name", "remote_field": "Name"},
            {"local_field": "domain", "remote_field": "Website"},
            {"local_field": "ref_id", "remote_field": "@id"},
        ],
    )
    object_setting_update(
        connection=connection,
        object_type=ObjectType.CONTACTS,
        mode=SyncMode.INPUT,
        mappings=[
            {"local_field": "email", "remote_field": "Email"},
            {"local_field": "first_name", "remote_field": "FirstName"},
            {"local_field": "last_name", "remote_field": "LastName"},
            {"local_field": "title", "remote_field": "Title"},
            {"local_field": "phone", "remote_field": "Phone"},
            {"local_field": "ref_id", "remote_field": "@id"},
        ],
    )
    object_setting_update(
        connection=connection,
        object_type=ObjectType.AGREEMENTS,
        mode=SyncMode.INPUT,
        options={
            "object": "Opportunity",
            "won_only": True,
            "amount_format": "arr",
            "end": {"mode": "date", "field": "Contract_End__c"},
            "notice": {"mode": "duration", "field": "Notice_Months__c", "unit": "month"},
            "tacit": {"rule": "field", "field": "Tacit_Renewal__c", "value": "true"},
        },
        mappings=[
            {"local_field": "plan_name", "remote_field": "Name"},
            {"local_field": "amount", "remote_field": "Amount"},
            {"local_field": "start_date", "remote_field": "Contract_Start__c"},
        ],
    )
    object_setting_update(
        connection=connection,
        object_type=ObjectType.INTERACTIONS,
        mode=SyncMode.INPUT,
        options={"kinds": ["email", "meeting", "call", "note"]},
    )


def connect_salesforce_source(*, workspace: Workspace, org_id: str = salesforce.DEFAULT_ORG) -> Connection:
    """A live connection of the workspace to the sandbox org, as the Connect button would leave it."""
    existing = Connection.objects.filter(workspace=workspace, crm="salesforce").first()
    if existing is not None:
        return existing
    account = SandboxAccount.objects.filter(crm=salesforce.CRM, account_id=org_id).first()
    user_email = account.user_email if account else salesforce.DEFAULT_USER_EMAIL
    access, refresh = issue_pair(
        crm=salesforce.CRM, account_id=org_id, user_email=user_email, ttl_seconds=SALESFORCE_TOKEN_TTL
    )
    with transaction.atomic():
        connection = Connection(
            workspace=workspace,
            crm="salesforce",
            status=Connection.Status.ACTIVE,
            remote_account_id=org_id,
            remote_user_email=user_email,
            base_url=instance_url(),
            owns_customer_id=not Connection.objects.filter(
                workspace=workspace, owns_customer_id=True
            ).exists(),
        )
        connection.set_tokens(
            {"access_token": access.value, "refresh_token": refresh.value, "instance_url": instance_url()},
            expires_at=timezone.now() + dt.timedelta(seconds=SALESFORCE_TOKEN_TTL),
        )
        connection.save()
        configure_salesforce_source(connection=connection)
    return connection


def sandbox_required() -> None:
    if not settings.SANDBOX_ENABLED:
        raise RuntimeError("The CRM sandbox is off: set SANDBOX_ENABLED=true to prepare the migration demo.")


MIGRATING_SLUG = "northwind-migrating"
MIGRATING_NAME = "Northwind (migrating)"
MIGRATING_USERS = [
    # (email, first name, last name, role)
    ("admin@northwind.test", "Nora", "Lindqvist", "admin"),
    ("csm@northwind.test", "Hugo", "Mercier", "csm"),
]
MIGRATING_COMPANIES = 40
STRIPE_EVERY = 3


@dataclass
class MigrationDemo:
    workspace: Workspace
    connection: Connection | None
    created: bool
    salesforce: str


def prepare_migration_demo(*, companies: int = MIGRATING_COMPANIES, random_seed: int = 5) -> MigrationDemo:
    """The migrating company: a workspace connected to the sandbox Salesforce (synced later, once the
    server answers), with an Admin and a CSM. Created once; later calls return it."""
    sandbox_required()
    summary = seed_salesforce(companies=companies, random_seed=random_seed)
    workspace = Workspace.objects.filter(slug=MIGRATING_SLUG).first()
    created = workspace is None
    if workspace is None:
        with transaction.atomic():
            workspace = workspace_create(
                name=MIGRATING_NAME, currency="EUR", email_domains=["northwind.test"], slug=MIGRATING_SLUG
            )
            for email, first, last, role in MIGRATING_USERS:
                user_get_or_create(email=email, first_name=first, last_name=last, password=DEMO_PASSWORD)
                membership_invite(workspace=workspace, email=email, role=role)
            connection: Connection | None = connect_salesforce_source(workspace=workspace)
    else:
        # Once the tour has deleted the Salesforce connection, it stays deleted.
        connection = Connection.objects.filter(workspace=workspace, crm="salesforce").first()
    return MigrationDemo(workspace=workspace, connection=connection, created=created, salesforce=summary)


def migration_demo_logins() -> list[tuple[str, str, str]]:
    """(email, password, role) of the migrating workspace's users, for the demo's login list."""
    return [(email, DEMO_PASSWORD, Role(role).label) for email, _, _, role in MIGRATING_USERS]


def attach_stripe_ids(*, workspace: Workspace) -> int:
    """Billing already matched some customers by their Stripe id, kept on the customer whatever the CRM."""
    customers = list(Customer.objects.filter(workspace=workspace).order_by("pk"))
    rows = [
        CustomerSource(customer=customer, source="stripe", external_id=f"cus_NW{customer.pk:06d}")
        for position, customer in enumerate(customers)
        if position % STRIPE_EVERY == 0
    ]
    CustomerSource.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def import_moment() -> dt.datetime:
    """When the portal's import happened: now, to the millisecond HubSpot keeps."""
    return now_ms()
