"""What every CRM connector is: declared data (OAuth, objects, modes, default mapping) plus a few hooks.

A connector knows HTTP (through integrations.http) and its vendor's JSON; it knows nothing of the ORM,
Celery or Skalin's models. The engine (integrations.sync) knows nothing of HTTP."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from .models import ObjectType, SyncMode

if TYPE_CHECKING:
    from .http import CrmHttp


class ConnectorError(Exception):
    """A vendor call failed. The flags say what happens next:
    - permanent: retrying the same call will not help (fix the mapping or the data);
    - reconnect: the credentials are gone (an Admin must reconnect);
    - retry_after: seconds to wait before trying again (rate limit, outage)."""

    def __init__(
        self,
        message: str,
        *,
        permanent: bool = False,
        reconnect: bool = False,
        retry_after: float | None = None,
        rate_limited: bool = False,
        status: int | None = None,
        code: str = "",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent or reconnect
        self.reconnect = reconnect
        self.retry_after = retry_after
        self.rate_limited = rate_limited
        self.status = status
        self.code = code

    def next_step(self) -> str:
        if self.reconnect:
            return "An Admin must reconnect the CRM."
        if self.rate_limited:
            return "The CRM's API quota is spent; the sync resumes by itself later."
        if self.permanent:
            return "Check the mapping and the CRM data; retrying alone will not help."
        return "Temporary; the sync will retry."


@dataclass(frozen=True)
class CrmField:
    name: str
    label: str
    type: str = "string"  # string, number, date, datetime, enumeration, bool, user, reference
    options: tuple[tuple[str, str], ...] = ()
    writable: bool = True


@dataclass(frozen=True)
class ObjectSpec:
    object_type: ObjectType
    remote_name: str
    modes: tuple[SyncMode, ...]
    default_mode: SyncMode = SyncMode.DISABLED
    # Skalin field -> CRM field, offered by the wizard before the admin changes anything.
    default_mapping: dict[str, str] = field(default_factory=dict)
    doc_url: str = ""


@dataclass(frozen=True)
class OAuthSpec:
    authorize_url_setting: str  # key of CRM_SETTINGS[crm] holding the host of the authorize page
    authorize_path: str
    token_url_setting: str
    token_path: str
    scopes: tuple[str, ...]
    pkce: bool = False
    client_auth: str = "body"  # or "basic"
    # Token-response key naming the account's own API host (Salesforce "instance_url").
    base_url_key: str = ""
    scope_separator: str = " "
    # How the token endpoint wants its parameters: "form" (RFC 6749) or "json" (Sellsy).
    token_body: str = "form"
    # Token-endpoint error codes that mean the grant is gone (Zoho says "invalid_code").
    revoked_errors: tuple[str, ...] = ("invalid_grant",)


@dataclass(frozen=True)
class Option:
    """One setting of a wizard block, declared by the connector (product.md's options table), stored in
    ObjectSetting.options[key]. The wizard renders these; it hard-codes no CRM."""

    key: str
    label: str
    # bool, choice, multichoice, text, field (a CRM field picker), values (free list of CRM values)
    kind: str = "bool"
    # Name passed to Connector.list_choices() when the choices come from the CRM (list views, stages...).
    choices_from: str = ""
    choices: tuple[tuple[str, str], ...] = ()
    help: str = ""
    # Shown under "see more parameters".
    advanced: bool = False
    default: Any = None
    # Names Skalin-side choices offered after `choices` (integrations.forms.WORKSPACE_CHOICES), e.g. the
    # workspace's customer custom fields.
    workspace_choices: str = ""
    # A multichoice whose order matters (tried first to last): the Admin sets the order.
    ordered: bool = False


# Options every CRM offers (product.md §3); keys may be dotted paths into ObjectSetting.options.
CHURN_ON_ABSENCE = Option(
    "churn_on_absence",
    "Make customers churn when they are no longer found",
    advanced=True,
    default=False,
    help="Their stage becomes Churn; they are never deleted and stay in Skalin.",
)
PARENT_CHILD = Option(
    "parent_child",
    "Sync parent / child relations",
    advanced=True,
    default=False,
    help="Keeps groups and their subsidiaries. Skalin supports two levels; deeper ones join the top-most parent.",
)
MERGE_KEYS = Option(
    "merge_keys",
    "Merge fields",
    kind="multichoice",
    advanced=True,
    default=["ref_id", "name", "domain"],
    choices=(("ref_id", "Customer ID"), ("name", "Name"), ("domain", "Domain")),
    workspace_choices="identifying_customer_fields",
    ordered=True,
    help=(
        "Find a customer already in Skalin before creating one, trying these fields in this order: the first "
        "that holds the same value wins. A custom field can merge once a CRM field is mapped to it above. "
        "Free-mail domains never merge."
    ),
)
INTERACTION_KINDS = Option(
    "kinds",
    "Interactions to sync",
    kind="multichoice",
    default=["email", "meeting", "call", "note"],
    choices=(("email", "Emails"), ("meeting", "Meetings"), ("call", "Calls"), ("note", "Notes")),
)
WON_ONLY = Option("won_only", "Won deals only", default=True)


@dataclass
class Record:
    external_id: str
    fields: dict[str, Any]
    modified_at: dt.datetime | None = None
    # Related records by kind: {"customers": [...], "contacts": [...], "parent": [...]}.
    links: dict[str, list[str]] = field(default_factory=dict)
    # For interactions: email / meeting / call / note.
    kind: str = ""
    deleted: bool = False


@dataclass
class Page:
    records: list[Record]
    # Where the next page starts; None when this listing is exhausted.
    next_cursor: str | None = None
    # The newest modification time the connector read for this page, records it dropped included (a
    # search that finds only open deals, or contacts of unsynced companies): the cursor moves past them
    # too. None: only the page's records count.
    seen: dt.datetime | None = None


@dataclass(frozen=True)
class Identity:
    account_id: str
    user_email: str = ""
    user_name: str = ""


@dataclass(frozen=True)
class ReadRequest:
    """What the engine asks a connector for: one object, changed since `since` (None: everything),
    restricted to the selection in `options` and, for dependent objects, to records linked to
    `scope_ids` (external ids of synced customers)."""

    object_type: ObjectType
    since: dt.datetime | None
    cursor: str | None
    options: dict[str, Any]
    fields: Sequence[str] = ()
    scope_ids: Sequence[str] | None = None
    ids_only: bool = False


class Connector:
    key: ClassVar[str]
    label: ClassVar[str]
    oauth: ClassVar[OAuthSpec]
    objects: ClassVar[dict[ObjectType, ObjectSpec]]
    # What the admin must have on the CRM side, shown before "Connect me".
    requirements: ClassVar[str] = ""
    # Auto-created output fields (Healthscore, CSM Pulse), or admin-mapped ones.
    creates_output_fields: ClassVar[bool] = False
    # Per object, the options the wizard offers (selection, churn on absence, parent/child, merge keys...).
    options: ClassVar[dict[ObjectType, tuple[Option, ...]]] = {}
    # Per object, a warning the wizard shows next to the block (e.g. meetings duplicated by a calendar).
    block_warnings: ClassVar[dict[ObjectType, str]] = {}
    # How the access token goes in the Authorization header ("Bearer", Zoho's "Zoho-oauthtoken").
    auth_scheme: ClassVar[str] = "Bearer"

    @classmethod
    def oauth_callback_token_url(cls, params: dict[str, str]) -> str | None:
        """A provider that names its token server in the callback (Zoho's data centres) returns it here,
        checked; raise ValueError with a sentence for a server that is not the provider's."""
        return None

    @classmethod
    def auth_header(cls, token: str) -> dict[str, str]:
        return {"Authorization": f"{cls.auth_scheme} {token}"}

    def __init__(self, http: CrmHttp) -> None:
        self.http = http
        if http.error_mapper is None:
            http.error_mapper = self.error_from_response

    # -- hooks every connector implements --------------------------------------------------------------
    def identity(self) -> Identity:
        raise NotImplementedError

    def read_page(self, request: ReadRequest) -> Page:
        raise NotImplementedError

    def write(
        self,
        object_type: ObjectType,
        external_id: str | None,
        fields: dict[str, Any],
        links: dict[str, list[str]] | None = None,
    ) -> str:
        """Create (external_id None) or update a record; returns its external id."""
        raise ConnectorError(f"{self.label} does not accept writes of {object_type}.", permanent=True)

    def read_back(self, object_type: ObjectType, external_id: str, fields: Sequence[str]) -> dict[str, Any]:
        """The current values of some fields of one record, to check that a push really landed."""
        raise NotImplementedError

    def list_fields(self, object_type: ObjectType) -> list[CrmField]:
        raise NotImplementedError

    def find_customers(self, text: str, limit: int = 20) -> list[Record]:
        """CRM companies whose id is `text` or whose name contains it (for "Why isn't this customer in
        Skalin?"), whether or not the selection holds them."""
        return []

    def selection_excludes(self, record: Record, options: dict[str, Any]) -> str | None:
        """Why the selection leaves `record` out, in words, or None when it holds it. Decided by the same
        filters the reads use, so the answer and the sync never disagree."""
        return None

    def deleted_ids(self, object_type: ObjectType, since: dt.datetime | None) -> list[str]:
        """Ids of records deleted (archived) in the CRM since `since` (None: as far back as the CRM keeps),
        for the tombstones of reliability R8. CRMs that cannot tell return []."""
        return []

    def user_emails(self, user_ids: Sequence[str]) -> dict[str, str]:
        """The email of each CRM user id (a user-type field holds ids); unknown ids are left out."""
        return {}

    def ensure_output_fields(self) -> dict[str, str]:
        """Create (or find) the CRM fields receiving Healthscore and CSM Pulse: {"health_score": name,
        "csm_pulse": name}. Connectors whose fields are admin-made return {}."""
        return {}

    def list_choices(self, kind: str) -> list[tuple[str, str]]:
        """(value, label) pairs for a wizard picker named by an Option's `choices_from`."""
        return []

    def error_from_response(self, status: int, body: Any, headers: dict[str, str]) -> ConnectorError:
        """Turn a vendor error response into a ConnectorError saying what happens next."""
        message = body.get("message") if isinstance(body, dict) else None
        return ConnectorError(
            f"{self.label} answered HTTP {status}: {message or str(body)[:200]}",
            permanent=400 <= status < 500 and status not in (408, 409, 423, 429),
            status=status,
        )

    @classmethod
    def allowed_modes(cls, object_type: ObjectType) -> tuple[SyncMode, ...]:
        spec = cls.objects.get(object_type)
        return spec.modes if spec else (SyncMode.DISABLED,)
