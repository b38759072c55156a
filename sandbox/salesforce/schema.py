"""What the fake org knows about its objects: describe fields, id prefixes, the wire formats of values.

Standard fields follow the Salesforce object reference
(https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/); custom fields
(`__c`) live in SandboxProperty rows so that each seed (or a test) can add its own."""

from __future__ import annotations

import datetime as dt
import string
from dataclasses import dataclass

from ..models import SandboxProperty

CRM = "salesforce"
# Records carry their org under this key of `properties`; it is never a describe field, so it never leaks.
ORG_KEY = "_org"
DEFAULT_ORG = "00D000000000001"
DEFAULT_USER_EMAIL = "admin@sandbox-salesforce.test"

# Type names of the describe call; the engine compares values by their kind.
STRING_TYPES = frozenset(
    {
        "id",
        "reference",
        "string",
        "textarea",
        "url",
        "email",
        "phone",
        "picklist",
        "multipicklist",
        "combobox",
    }
)
NUMBER_TYPES = frozenset({"double", "currency", "int", "percent", "long"})


@dataclass(frozen=True)
class FieldDef:
    name: str
    label: str
    type: str = "string"
    updateable: bool = True
    createable: bool = True
    required: bool = False  # on create
    picklist: tuple[str, ...] = ()
    reference_to: tuple[str, ...] = ()
    custom: bool = False

    @property
    def kind(self) -> str:
        if self.type in STRING_TYPES:
            return "string"
        if self.type in NUMBER_TYPES:
            return "number"
        return {"boolean": "bool", "date": "date", "datetime": "datetime"}.get(self.type, "string")

    def describe(self) -> dict:
        return {
            "name": self.name,
            "label": self.label,
            "type": self.type,
            "custom": self.custom,
            "createable": self.createable,
            "updateable": self.updateable,
            "nillable": not self.required and self.type != "boolean",
            "filterable": True,
            "sortable": self.type not in ("textarea",),
            "length": 255 if self.kind == "string" else 0,
            "picklistValues": [
                {"active": True, "defaultValue": False, "label": value, "validFor": None, "value": value}
                for value in self.picklist
            ],
            "referenceTo": list(self.reference_to),
            "relationshipName": self.name[:-2]
            if self.type == "reference" and self.name.endswith("Id")
            else None,
        }


def _ro(name: str, label: str, type_: str = "string", **kw: object) -> FieldDef:
    return FieldDef(name, label, type_, updateable=False, createable=False, **kw)  # type: ignore[arg-type]


def _system() -> list[FieldDef]:
    return [
        _ro("Id", "Record ID", "id"),
        _ro("IsDeleted", "Deleted", "boolean"),
        _ro("CreatedDate", "Created Date", "datetime"),
        _ro("LastModifiedDate", "Last Modified Date", "datetime"),
        _ro("SystemModstamp", "System Modstamp", "datetime"),
    ]


OWNER = FieldDef("OwnerId", "Owner ID", "reference", reference_to=("User",))

STANDARD_FIELDS: dict[str, list[FieldDef]] = {
    "Account": [
        *_system(),
        FieldDef("Name", "Account Name", required=True),
        FieldDef(
            "Type",
            "Account Type",
            "picklist",
            picklist=("Prospect", "Customer", "Former Customer", "Partner"),
        ),
        FieldDef("ParentId", "Parent Account ID", "reference", reference_to=("Account",)),
        FieldDef("Website", "Website", "url"),
        FieldDef(
            "Industry", "Industry", "picklist", picklist=("Software", "Retail", "Manufacturing", "Finance")
        ),
        FieldDef("Phone", "Account Phone", "phone"),
        FieldDef("BillingCity", "Billing City"),
        FieldDef("BillingCountry", "Billing Country"),
        FieldDef("NumberOfEmployees", "Employees", "int"),
        FieldDef("AnnualRevenue", "Annual Revenue", "currency"),
        FieldDef("Description", "Account Description", "textarea"),
        OWNER,
    ],
    "Contact": [
        *_system(),
        FieldDef("AccountId", "Account ID", "reference", reference_to=("Account",)),
        FieldDef("FirstName", "First Name"),
        FieldDef("LastName", "Last Name", required=True),
        _ro("Name", "Full Name"),
        FieldDef("Email", "Email", "email"),
        FieldDef("Phone", "Business Phone", "phone"),
        FieldDef("Title", "Title"),
        FieldDef("Department", "Department"),
        OWNER,
    ],
    "Opportunity": [
        *_system(),
        FieldDef("AccountId", "Account ID", "reference", reference_to=("Account",)),
        FieldDef("Name", "Name", required=True),
        FieldDef("Amount", "Amount", "currency"),
        FieldDef("CloseDate", "Close Date", "date", required=True),
        FieldDef(
            "StageName",
            "Stage",
            "picklist",
            required=True,
            picklist=("Prospecting", "Negotiation/Review", "Closed Won", "Closed Lost"),
        ),
        _ro("IsWon", "Won", "boolean"),
        _ro("IsClosed", "Closed", "boolean"),
        FieldDef("Type", "Opportunity Type", "picklist", picklist=("New Business", "Renewal", "Upsell")),
        FieldDef("RecordTypeId", "Record Type ID", "reference", reference_to=("RecordType",)),
        OWNER,
    ],
    "Contract": [
        *_system(),
        FieldDef("AccountId", "Account ID", "reference", required=True, reference_to=("Account",)),
        _ro("ContractNumber", "Contract Number"),
        FieldDef("StartDate", "Contract Start Date", "date"),
        _ro("EndDate", "Contract End Date", "date"),
        FieldDef("ContractTerm", "Contract Term (months)", "int"),
        FieldDef("Status", "Status", "picklist", picklist=("Draft", "In Approval Process", "Activated")),
        FieldDef(
            "OwnerExpirationNotice",
            "Owner Expiration Notice",
            "picklist",
            picklist=("15", "30", "45", "60", "90"),
        ),
        FieldDef("Description", "Description", "textarea"),
        OWNER,
    ],
    "Task": [
        *_system(),
        FieldDef("Subject", "Subject", "combobox"),
        FieldDef("Description", "Comments", "textarea"),
        FieldDef("ActivityDate", "Due Date Only", "date"),
        FieldDef("Status", "Status", "picklist", picklist=("Not Started", "In Progress", "Completed")),
        FieldDef("Priority", "Priority", "picklist", picklist=("High", "Normal", "Low")),
        FieldDef(
            "TaskSubtype",
            "Task Subtype",
            "picklist",
            updateable=False,
            picklist=("Task", "Email", "ListEmail", "Cadence", "Call", "LinkedIn"),
        ),
        FieldDef("CallType", "Call Type", "picklist", picklist=("Internal", "Inbound", "Outbound")),
        FieldDef("CallDurationInSeconds", "Call Duration", "int"),
        FieldDef("WhatId", "Related To ID", "reference", reference_to=("Account", "Opportunity", "Contract")),
        FieldDef("WhoId", "Name ID", "reference", reference_to=("Contact",)),
        _ro("AccountId", "Account ID", "reference", reference_to=("Account",)),
        OWNER,
    ],
    "Event": [
        *_system(),
        FieldDef("Subject", "Subject", "combobox"),
        FieldDef("Description", "Description", "textarea"),
        FieldDef("StartDateTime", "Start Date Time", "datetime"),
        FieldDef("EndDateTime", "End Date Time", "datetime"),
        FieldDef("ActivityDateTime", "Due Date Time", "datetime"),
        FieldDef("DurationInMinutes", "Duration", "int"),
        FieldDef("Location", "Location"),
        FieldDef("WhatId", "Related To ID", "reference", reference_to=("Account", "Opportunity", "Contract")),
        FieldDef("WhoId", "Name ID", "reference", reference_to=("Contact",)),
        _ro("AccountId", "Account ID", "reference", reference_to=("Account",)),
        OWNER,
    ],
    "EmailMessage": [
        *_system(),
        FieldDef("Subject", "Subject"),
        FieldDef("TextBody", "Text Body", "textarea"),
        FieldDef("HtmlBody", "HTML Body", "textarea"),
        FieldDef("FromAddress", "From Address", "email"),
        FieldDef("FromName", "From Name"),
        FieldDef("ToAddress", "To Address"),
        FieldDef("Incoming", "Is Incoming", "boolean"),
        FieldDef("MessageDate", "Message Date", "datetime"),
        FieldDef("Status", "Status", "picklist", picklist=("0", "1", "2", "3", "4", "5")),
        FieldDef("RelatedToId", "Related To ID", "reference", reference_to=("Account", "Opportunity")),
        FieldDef("ActivityId", "Activity ID", "reference", reference_to=("Task",)),
    ],
    "Note": [
        *_system(),
        FieldDef("ParentId", "Parent ID", "reference", required=True, reference_to=("Account", "Contact")),
        FieldDef("Title", "Title", required=True),
        FieldDef("Body", "Body", "textarea"),
        FieldDef("IsPrivate", "Private", "boolean"),
        OWNER,
    ],
    "User": [
        *_system(),
        _ro("Username", "Username"),
        _ro("Name", "Full Name"),
        _ro("FirstName", "First Name"),
        _ro("LastName", "Last Name"),
        _ro("Email", "Email", "email"),
        _ro("IsActive", "Active", "boolean"),
    ],
    "RecordType": [
        *_system(),
        _ro("Name", "Record Type Name"),
        _ro("DeveloperName", "Record Type Name"),
        _ro("SobjectType", "SObject Type Name", "picklist"),
        _ro("IsActive", "Active", "boolean"),
    ],
}
LABELS = {"Opportunity": "Opportunities", "EmailMessage": "Email Messages"}
# Key prefixes: https://help.salesforce.com/s/articleView?id=000385203 (standard object id prefixes)
PREFIXES = {
    "Account": "001",
    "Contact": "003",
    "Opportunity": "006",
    "Contract": "800",
    "Task": "00T",
    "Event": "00U",
    "EmailMessage": "02s",
    "Note": "002",
    "User": "005",
    "RecordType": "012",
    "ListView": "00B",
    "QueryLocator": "01g",
}
SOBJECTS = tuple(STANDARD_FIELDS)
READ_ONLY_SOBJECTS = frozenset({"User", "RecordType"})


def sobject_name(name: str) -> str | None:
    """The object's API name whatever the case it was written in (SOQL and URLs are case-insensitive)."""
    for sobject in SOBJECTS:
        if sobject.lower() == name.lower():
            return sobject
    return None


def fields_of(sobject: str) -> dict[str, FieldDef]:
    """Describe fields by lower-cased name: the standard ones plus the org's custom fields."""
    defs = {f.name.lower(): f for f in STANDARD_FIELDS[sobject]}
    for prop in SandboxProperty.objects.filter(crm=CRM, object_type=sobject):
        defs[prop.name.lower()] = FieldDef(
            prop.name,
            prop.label,
            prop.type,
            picklist=tuple(str(option) for option in prop.options or ()),
            reference_to=(prop.field_type,) if prop.type == "reference" and prop.field_type else (),
            custom=True,
        )
    return defs


# -- ids -----------------------------------------------------------------------------------------------
BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase


def base62(number: int, width: int) -> str:
    digits = ""
    while number:
        number, rest = divmod(number, 62)
        digits = BASE62[rest] + digits
    return digits.rjust(width, "0")[-width:]


def id18(id15: str) -> str:
    """The case-safe 18-character form: one checksum letter per 5 characters, from their upper-case bits."""
    suffix = ""
    for start in (0, 5, 10):
        bits = sum(1 << i for i, char in enumerate(id15[start : start + 5]) if "A" <= char <= "Z")
        suffix += "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"[bits]
    return id15 + suffix


def org_pod(org: str) -> str:
    """Two characters that keep the ids of two sandbox orgs apart."""
    return base62(sum(ord(char) * 31**i for i, char in enumerate(org[::-1])), 2)


def make_id(sobject: str, org: str, number: int) -> str:
    return id18(f"{PREFIXES[sobject]}{org_pod(org)}0{base62(number, 9)}")


# -- values on the wire ----------------------------------------------------------------------------------
def format_datetime(when: dt.datetime) -> str:
    """Salesforce's JSON datetime: 2024-05-01T10:00:00.000+0000."""
    when = when.astimezone(dt.UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}+0000"


def parse_datetime(value: str) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def stamp(when: dt.datetime) -> dt.datetime:
    """SystemModstamp has millisecond precision; updated_at keeps the same instant so SQL can prefilter on it."""
    return when.astimezone(dt.UTC).replace(microsecond=when.microsecond // 1000 * 1000)


@dataclass
class Org:
    """The org and user behind a request's token."""

    org_id: str
    user_email: str
    user_id: str
    version: str = "v60.0"
