"""What a fresh HubSpot portal already defines: objects, built-in properties, deal pipelines, association types.

Properties created through the API (and the seed's custom ones) live in SandboxProperty."""

from __future__ import annotations

from typing import Any

CRM = "hubspot"
DEFAULT_ACCOUNT = "12345678"
DEFAULT_NAME = "Demo SaaS"  # the demo portal's name on the consent page's account chooser
DEFAULT_USER = "admin@sandbox-hubspot.test"
ACCESS_TOKEN_SECONDS = 1800  # HubSpot's expires_in (crm-apis.md §1.1)
GRANTED_SCOPES = [
    "oauth", "crm.objects.companies.read", "crm.objects.companies.write", "crm.objects.contacts.read",
    "crm.objects.contacts.write", "crm.objects.deals.read", "crm.schemas.companies.write", "sales-email-read",
]  # fmt: skip

OBJECTS = ("companies", "contacts", "deals", "notes", "emails", "calls", "meetings")
# Paths accept singular names and object type ids too (https://developers.hubspot.com/docs/guides/crm/understanding-the-crm).
ALIASES = {
    "company": "companies", "0-2": "companies", "contact": "contacts", "0-1": "contacts",
    "deal": "deals", "0-3": "deals", "note": "notes", "0-46": "notes", "email": "emails", "0-49": "emails",
    "call": "calls", "0-48": "calls", "meeting": "meetings", "0-47": "meetings",
}  # fmt: skip
# The property holding each object's modification stamp (contacts differ: crm-apis.md §1.3).
MODIFIED = {name: "lastmodifieddate" if name == "contacts" else "hs_lastmodifieddate" for name in OBJECTS}
ID_BASE = {name: 1_000_000_000 * (n + 1) for n, name in enumerate(OBJECTS)}

# HUBSPOT_DEFINED association type ids: (from, to) -> id. Pairs are each other's inverse.
# https://developers.hubspot.com/docs/api-reference/crm-associations-v4/guide#association-type-id-values
ASSOCIATION_TYPES: dict[tuple[str, str], int] = {
    ("companies", "contacts"): 280, ("contacts", "companies"): 279,
    ("companies", "deals"): 342, ("deals", "companies"): 341,
    ("contacts", "deals"): 4, ("deals", "contacts"): 3,
    ("companies", "notes"): 189, ("notes", "companies"): 190,
    ("companies", "emails"): 185, ("emails", "companies"): 186,
    ("companies", "calls"): 181, ("calls", "companies"): 182,
    ("companies", "meetings"): 187, ("meetings", "companies"): 188,
    ("contacts", "notes"): 201, ("notes", "contacts"): 202,
    ("contacts", "emails"): 197, ("emails", "contacts"): 198,
    ("contacts", "calls"): 193, ("calls", "contacts"): 194,
    ("contacts", "meetings"): 199, ("meetings", "contacts"): 200,
}  # fmt: skip
PARENT_TO_CHILD, CHILD_TO_PARENT = 13, 14  # company <-> company (crm-apis.md §1.6)
TYPE_ENDS = {type_id: pair for pair, type_id in ASSOCIATION_TYPES.items()} | {
    PARENT_TO_CHILD: ("companies", "companies"),
    CHILD_TO_PARENT: ("companies", "companies"),
}
INVERSE = {type_id: ASSOCIATION_TYPES[(b, a)] for (a, b), type_id in ASSOCIATION_TYPES.items()} | {
    PARENT_TO_CHILD: CHILD_TO_PARENT,
    CHILD_TO_PARENT: PARENT_TO_CHILD,
}


def _options(*pairs: str) -> list[dict[str, Any]]:
    """'value:Label' pairs -> HubSpot option objects."""
    return [
        {"label": pair.split(":", 1)[1], "value": pair.split(":", 1)[0], "displayOrder": n, "hidden": False}
        for n, pair in enumerate(pairs)
    ]


LIFECYCLE = _options(
    "subscriber:Subscriber", "lead:Lead", "marketingqualifiedlead:Marketing Qualified Lead",
    "salesqualifiedlead:Sales Qualified Lead", "opportunity:Opportunity", "customer:Customer",
    "evangelist:Evangelist", "other:Other",
)  # fmt: skip
BUYING_ROLES = _options(
    "BLOCKER:Blocker", "BUDGET_HOLDER:Budget Holder", "CHAMPION:Champion", "DECISION_MAKER:Decision Maker",
    "END_USER:End User", "EXECUTIVE_SPONSOR:Executive Sponsor", "INFLUENCER:Influencer", "OTHER:Other",
)  # fmt: skip

# name: (label, type, fieldType, read-only value, options)
Spec = tuple[str, str, str, bool, list[dict[str, Any]]]
_COMMON: dict[str, Spec] = {
    "hs_object_id": ("Record ID", "number", "number", True, []),
    "createdate": ("Create Date", "datetime", "date", True, []),
    "hs_lastmodifieddate": ("Last Modified Date", "datetime", "date", True, []),
    "hubspot_owner_id": ("Owner", "enumeration", "select", False, []),
}
BUILT_IN: dict[str, dict[str, Spec]] = {
    "companies": {
        "name": ("Company name", "string", "text", False, []),
        "domain": ("Company Domain Name", "string", "text", False, []),
        "website": ("Website URL", "string", "text", False, []),
        "lifecyclestage": ("Lifecycle Stage", "enumeration", "radio", False, LIFECYCLE),
        "hs_parent_company_id": ("Parent Company", "number", "number", True, []),
        "industry": ("Industry", "string", "text", False, []),
        "city": ("City", "string", "text", False, []),
        "country": ("Country/Region", "string", "text", False, []),
        "phone": ("Phone Number", "string", "phonenumber", False, []),
        "numberofemployees": ("Number of Employees", "number", "number", False, []),
        "annualrevenue": ("Annual Revenue", "number", "number", False, []),
    },
    "contacts": {
        "email": ("Email", "string", "text", False, []),
        "firstname": ("First Name", "string", "text", False, []),
        "lastname": ("Last Name", "string", "text", False, []),
        "phone": ("Phone Number", "string", "phonenumber", False, []),
        "jobtitle": ("Job Title", "string", "text", False, []),
        "hs_buying_role": ("Buying Role", "enumeration", "checkbox", False, BUYING_ROLES),
        "lifecyclestage": ("Lifecycle Stage", "enumeration", "radio", False, LIFECYCLE),
        "associatedcompanyid": ("Primary Associated Company ID", "number", "number", False, []),
        "lastmodifieddate": ("Last Modified Date", "datetime", "date", True, []),
    },
    "deals": {
        "dealname": ("Deal Name", "string", "text", False, []),
        "amount": ("Amount", "number", "number", False, []),
        "deal_currency_code": (
            "Currency",
            "enumeration",
            "select",
            False,
            _options("EUR:Euro", "USD:US Dollar"),
        ),
        "closedate": ("Close Date", "datetime", "date", False, []),
        "hs_is_closed_won": ("Is Closed Won", "bool", "booleancheckbox", True, []),
    },
    "notes": {
        "hs_note_body": ("Note body", "string", "html", False, []),
        "hs_timestamp": ("Activity date", "datetime", "date", False, []),
    },
    "emails": {
        "hs_email_subject": ("Email subject", "string", "text", False, []),
        "hs_email_text": ("Email body", "string", "textarea", False, []),
        "hs_email_direction": (
            "Email direction",
            "enumeration",
            "select",
            False,
            _options("EMAIL:Email", "INCOMING_EMAIL:Incoming email", "FORWARDED_EMAIL:Forwarded"),
        ),
        "hs_email_from_email": ("From", "string", "text", False, []),
        "hs_email_to_email": ("To", "string", "text", False, []),
        "hs_timestamp": ("Activity date", "datetime", "date", False, []),
    },  # fmt: skip
    "calls": {
        "hs_call_title": ("Call title", "string", "text", False, []),
        "hs_call_body": ("Call notes", "string", "html", False, []),
        "hs_call_direction": (
            "Call direction",
            "enumeration",
            "select",
            False,
            _options("INBOUND:Inbound", "OUTBOUND:Outbound"),
        ),
        "hs_call_duration": ("Call duration", "number", "number", False, []),
        "hs_timestamp": ("Activity date", "datetime", "date", False, []),
    },  # fmt: skip
    "meetings": {
        "hs_meeting_title": ("Meeting name", "string", "text", False, []),
        "hs_meeting_body": ("Meeting description", "string", "html", False, []),
        "hs_meeting_start_time": ("Start time", "datetime", "date", False, []),
        "hs_meeting_end_time": ("End time", "datetime", "date", False, []),
        "hs_timestamp": ("Activity date", "datetime", "date", False, []),
    },
}
for _name, _props in BUILT_IN.items():
    for _key, _spec in _COMMON.items():
        if not (_name == "contacts" and _key == "hs_lastmodifieddate"):
            _props.setdefault(_key, _spec)
# What list and search return when no `properties` are asked for.
DEFAULT_PROPERTIES = {
    "companies": ["name", "domain"],
    "contacts": ["email", "firstname", "lastname"],
    "deals": ["dealname", "amount", "closedate", "pipeline", "dealstage"],
} | {name: ["hs_timestamp"] for name in ("notes", "emails", "calls", "meetings")}
GROUPS = {"companies": "companyinformation", "contacts": "contactinformation", "deals": "dealinformation"}


def _stage(stage_id: str, label: str, order: int, probability: str, closed: bool) -> dict[str, Any]:
    return {
        "id": stage_id, "label": label, "displayOrder": order, "archived": False,
        "metadata": {"isClosed": "true" if closed else "false", "probability": probability},
        "createdAt": "2020-05-12T08:00:00.000Z", "updatedAt": "2020-05-12T08:00:00.000Z",
    }  # fmt: skip


# GET /crm/v3/pipelines/deals (https://developers.hubspot.com/docs/api-reference/crm-pipelines-v3/guide):
# metadata values are strings.
PIPELINES: list[dict[str, Any]] = [
    {
        "id": "default", "label": "Sales Pipeline", "displayOrder": 0, "archived": False,
        "createdAt": "2020-05-12T08:00:00.000Z", "updatedAt": "2020-05-12T08:00:00.000Z",
        "stages": [
            _stage("appointmentscheduled", "Appointment Scheduled", 0, "0.2", False),
            _stage("qualifiedtobuy", "Qualified To Buy", 1, "0.4", False),
            _stage("presentationscheduled", "Presentation Scheduled", 2, "0.6", False),
            _stage("decisionmakerboughtin", "Decision Maker Bought-In", 3, "0.8", False),
            _stage("contractsent", "Contract Sent", 4, "0.9", False),
            _stage("closedwon", "Closed Won", 5, "1.0", True),
            _stage("closedlost", "Closed Lost", 6, "0.0", True),
        ],
    },
    {
        "id": "8675309", "label": "Renewals", "displayOrder": 1, "archived": False,
        "createdAt": "2021-02-01T09:30:00.000Z", "updatedAt": "2021-02-01T09:30:00.000Z",
        "stages": [
            _stage("1031001", "Renewal due", 0, "0.5", False),
            _stage("1031002", "Renewed", 1, "1.0", True),
            _stage("1031003", "Not renewed", 2, "0.0", True),
        ],
    },
]  # fmt: skip
WON_STAGES = {"closedwon", "1031002"}
BUILT_IN["deals"]["pipeline"] = (
    "Pipeline", "enumeration", "select", False, _options(*(f"{p['id']}:{p['label']}" for p in PIPELINES))
)  # fmt: skip
BUILT_IN["deals"]["dealstage"] = (
    "Deal Stage", "enumeration", "radio", False,
    _options(*(f"{s['id']}:{s['label']}" for p in PIPELINES for s in p["stages"])),
)  # fmt: skip
