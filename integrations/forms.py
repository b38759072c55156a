"""The setup wizard's blocks, built from what each connector declares (objects, modes, options) and from
the CRM's own fields, read live. No CRM is named here: a new connector gets its wizard for free.

A block parses the posted values back into what it renders (nothing typed is lost when a value is
refused), collects errors per input name, and turns into `object_setting_update` arguments."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.core.cache import cache

from agreements.models import Interval
from customers.models import CustomField, HealthProfile, Phase, RoleTag

from . import services
from .base import MERGE_KEYS, Connector, ConnectorError, CrmField, Option
from .models import Connection, FieldDirection, ObjectSetting, ObjectType, SyncMode

if TYPE_CHECKING:
    from workspaces.models import Workspace

BLOCKS = ("customers", "contacts", "agreements", "interactions", "data")
BLOCK_LABELS = {
    "customers": "Customers",
    "contacts": "Contacts",
    "agreements": "Agreements",
    "interactions": "Interactions",
    "data": "Data transfer to the CRM",
}
ID_FIELD = "@id"
CATALOG_SECONDS = 300
CUSTOMER_FIELDS = (
    ("name", "Customer name", True),
    ("ref_id", "Customer ID", False),
    ("domain", "Customer domain", False),
    ("owner", "CSM owner", False),
    ("phase", "Customer stage", False),
    ("health_profile", "Customer profile", False),
    ("tags", "Tags", False),
)
CONTACT_FIELDS = (
    ("email", "Email", True),
    ("ref_id", "Contact ID", False),
    ("first_name", "First name", False),
    ("last_name", "Last name", False),
    ("phone", "Phone", False),
    ("title", "Job title", False),
)
AGREEMENT_FIELDS = (
    ("plan_name", "Plan name", False),
    ("amount", "Amount (MRR or ARR)", True),
    ("one_time_fee", "One-time fee", False),
    ("start_date", "Start date", False),
)
VALUE_TABLES = {"phase", "health_profile"}


def local_field_label(object_type: str, name: str) -> str:
    """What a person calls a mapped Skalin field: "Customer stage", "Champion tag", "Custom: Old CRM ID"."""
    table = {"customers": CUSTOMER_FIELDS, "contacts": CONTACT_FIELDS, "agreements": AGREEMENT_FIELDS}.get(
        object_type, ()
    )
    labels = {key: label for key, label, _ in table}
    if name in labels:
        return labels[name]
    if name.startswith("role:"):
        return f"{name.removeprefix('role:').replace('_', ' ').capitalize()} tag"
    if name.startswith("custom:"):
        return f"Custom field {name.removeprefix('custom:')}"
    return name.replace("_", " ").capitalize()


TERM_MODES = (("none", "Not set"), ("duration", "Duration"), ("date", "Date"), ("manual", "Manual"))
TACIT_RULES = (
    ("if_notice", "Tacitly renewed when a notice date or notice period is set in the CRM"),
    ("field", "Tacitly renewed when a CRM field holds a value"),
    ("always", "Always tacitly renewed"),
    ("never", "Never tacitly renewed"),
)
AMOUNT_FORMATS = (("mrr", "MRR (monthly)"), ("arr", "ARR (yearly)"))
SCORES = (("health_score", "Healthscore"), ("csm_pulse", "CSM Pulse"))
EMPTY_VALUE_ROWS = 3


# ---- what Skalin offers besides the connector's fixed choices ---------------------------------------------


@dataclass(frozen=True)
class WorkspaceChoices:
    """Skalin-side choices of an option, and the things that exist but cannot be chosen (with why)."""

    choices: list[tuple[str, str]]
    # value -> (label, why it cannot be chosen)
    refused: dict[str, tuple[str, str]] = field(default_factory=dict)


# A merge key must tell one customer from another: a yes/no, a date or a choice value cannot.
IDENTIFYING_CUSTOM_TYPES = (CustomField.Type.TEXT, CustomField.Type.NUMBER)


def identifying_customer_fields(workspace: Workspace) -> WorkspaceChoices:
    """The workspace's customer custom fields that can identify a customer, as `custom:<key>` values."""
    choices: list[tuple[str, str]] = []
    refused: dict[str, tuple[str, str]] = {}
    for custom in CustomField.objects.filter(workspace=workspace, target=CustomField.Target.CUSTOMER):
        value, label = f"custom:{custom.key}", f"{custom.label} (custom field)"
        if custom.type in IDENTIFYING_CUSTOM_TYPES:
            choices.append((value, label))
        else:
            kind = custom.get_type_display().lower()
            refused[value] = (label, f"A {kind} field cannot tell one customer from another: untick it.")
    return WorkspaceChoices(choices, refused)


WORKSPACE_CHOICES: dict[str, Callable[[Workspace], WorkspaceChoices]] = {
    "identifying_customer_fields": identifying_customer_fields,
}


# ---- what the CRM says, read live and cached for a few minutes ---------------------------------------------


class Catalog:
    """The CRM's fields and picker choices for one connection, read through its connector."""

    def __init__(self, connection: Connection, *, refresh: bool = False) -> None:
        self.connection = connection
        self.refresh = refresh
        self._connector: Connector | None = None

    def connector(self) -> Connector:
        if self._connector is None:
            self._connector = services.connector_for(self.connection)
        return self._connector

    def _cached(self, key: str, load: Any) -> Any:
        key = f"integrations:catalog:{self.connection.pk}:{key}"
        value = None if self.refresh else cache.get(key)
        if value is None:
            value = load()
            cache.set(key, value, CATALOG_SECONDS)
        return value

    def fields(self, object_type: str) -> list[CrmField]:
        return self._cached(
            f"fields:{object_type}", lambda: self.connector().list_fields(ObjectType(object_type))
        )

    def choices(self, name: str) -> list[tuple[str, str]]:
        return self._cached(f"choices:{name}", lambda: list(self.connector().list_choices(name)))


# ---- what a block renders ---------------------------------------------------------------------------------


@dataclass
class ValueRow:
    crm: str
    local: str
    crm_label: str = ""


@dataclass
class MappingRow:
    local: str
    label: str
    remote: str = ""
    direction: str = FieldDirection.INPUT
    clearable: bool = False
    required: bool = False
    values: list[ValueRow] = field(default_factory=list)
    # Role tags: the CRM values that give the tag.
    role_values: str = ""
    picklist: bool = False
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.local.replace(":", "__")

    @property
    def has_table(self) -> bool:
        return self.local in VALUE_TABLES


@dataclass(frozen=True)
class ChoiceEntry:
    """One checkbox of a multichoice option."""

    value: str
    label: str
    checked: bool
    # Why a chosen value is no longer available (a deleted custom field, a CRM pipeline gone); kept and
    # shown, never dropped silently.
    problem: str = ""
    # Place among the chosen values of an ordered option (1 is tried first); 0 when not chosen.
    position: int = 0
    last: bool = False
    # hx-vals of the checkbox and of the up / down buttons of an ordered option.
    tick: str = ""
    up: str = ""
    down: str = ""

    @property
    def slug(self) -> str:
        return self.value.replace(":", "__")


@dataclass
class OptionRow:
    option: Option
    value: Any
    choices: list[tuple[str, str]] = field(default_factory=list)
    error: str = ""
    # False when the CRM could not list the choices: the saved values are carried along unseen.
    listed: bool = True
    # Chosen values no longer offered: value -> (label, why).
    stale: dict[str, tuple[str, str]] = field(default_factory=dict)
    # An ordered option redrawn because the Admin just ticked or moved one of its values: its section
    # stays open.
    touched: bool = False
    block_key: str = ""

    @property
    def name(self) -> str:
        return self.option.key.replace(".", "__")

    @property
    def input_name(self) -> str:
        return f"{self.block_key}-opt-{self.name}"

    @property
    def chosen_entries(self) -> list[ChoiceEntry]:
        return [entry for entry in self.entries if entry.checked]

    @property
    def other_entries(self) -> list[ChoiceEntry]:
        return [entry for entry in self.entries if not entry.checked]

    @property
    def selected(self) -> list[str]:
        if isinstance(self.value, list | tuple):
            return [str(v) for v in self.value]
        return [str(self.value)] if self.value not in (None, "") else []

    @property
    def entries(self) -> list[ChoiceEntry]:
        """The checkboxes: for an ordered option, the chosen values first, in their order. None when the
        CRM could not list the choices (the saved values then travel in hidden inputs)."""
        if not self.listed:
            return []
        offered = dict(self.choices)
        chosen = self.selected

        def entry(value: str, position: int = 0) -> ChoiceEntry:
            label, problem = self.stale.get(value, (offered.get(value, value), ""))
            moves = {
                direction: json.dumps({f"{self.input_name}-move": f"{direction}:{value}"})
                for direction in ("tick", "up", "down")
            }
            last = position == len(chosen)
            return ChoiceEntry(value, label, value in chosen, problem, position, last, **moves)

        if self.option.ordered:
            ordered = [entry(value, position) for position, value in enumerate(chosen, start=1)]
            return ordered + [entry(value) for value, _ in self.choices if value not in chosen]
        return [entry(value) for value, _ in self.choices] + [
            entry(value) for value in chosen if value not in offered
        ]


@dataclass
class Block:
    key: str
    label: str
    connection: Connection
    connector_class: type[Connector]
    mode: str = SyncMode.DISABLED
    modes: list[tuple[str, str]] = field(default_factory=list)
    options: list[OptionRow] = field(default_factory=list)
    mappings: list[MappingRow] = field(default_factory=list)
    roles: list[MappingRow] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    crm_fields: list[CrmField] | None = None
    crm_error: str = ""
    warning: str = ""
    phases: list[tuple[str, str]] = field(default_factory=list)
    profiles: list[tuple[str, str]] = field(default_factory=list)

    @property
    def object_type(self) -> str:
        return "customers" if self.key == "data" else self.key

    @property
    def basic_options(self) -> list[OptionRow]:
        return [o for o in self.options if not o.option.advanced]

    @property
    def advanced_options(self) -> list[OptionRow]:
        return [o for o in self.options if o.option.advanced]

    @property
    def advanced_open(self) -> bool:
        """The "see more parameters" section opens when something in it needs a look."""
        return any(o.error or o.stale or o.touched for o in self.advanced_options)

    @property
    def offers_two_ways(self) -> bool:
        return any(value == SyncMode.TWO_WAYS for value, _ in self.modes)

    @property
    def field_choices(self) -> list[tuple[str, str]]:
        return [
            (f.name, f"{f.label} ({f.name})" if f.label != f.name else f.name) for f in self.crm_fields or ()
        ]

    @property
    def crm_label(self) -> str:
        return self.connector_class.label

    @property
    def directions(self) -> list[tuple[str, str]]:
        return list(FieldDirection.choices)

    @property
    def field_names(self) -> set[str]:
        return {f.name for f in self.crm_fields or ()}

    @property
    def has_errors(self) -> bool:
        rows = [*self.mappings, *self.roles]
        return bool(self.errors) or any(o.error for o in self.options) or any(r.errors for r in rows)

    def error(self, name: str, message: str) -> None:
        self.errors.setdefault(name, message)


def _get(options: Mapping[str, Any], dotted: str, default: Any = None) -> Any:
    value: Any = options
    for part in dotted.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return default
        value = value[part]
    return value


def _set(options: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    target = options
    for part in parts[:-1]:
        if not isinstance(target.get(part), dict):
            target[part] = {}
        target = target[part]
    target[parts[-1]] = value


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.replace("\n", ",").split(",") if part.strip()]


def _moved(values: list[str], move: str) -> list[str]:
    """`values` after the Admin's move: "up:<value>" or "down:<value>" moves it a place; "tick:<value>"
    (just ticked) puts it last, since htmx sends the ticked box before the others. Anything else (a value
    not chosen, a move past either end) leaves the order as it is."""
    direction, _, value = move.partition(":")
    if value not in values:
        return values
    if direction == "tick":
        return [v for v in values if v != value] + [value]
    if direction not in ("up", "down"):
        return values
    index = values.index(value)
    other = index - 1 if direction == "up" else index + 1
    if not 0 <= other < len(values):
        return values
    moved = list(values)
    moved[index], moved[other] = moved[other], moved[index]
    return moved


class BlockForm:
    """One block of the wizard: initial values from the saved setting, or the posted ones."""

    def __init__(
        self,
        connection: Connection,
        key: str,
        *,
        data: Mapping[str, Any] | None = None,
        catalog: Catalog | None = None,
    ) -> None:
        if key not in BLOCKS:
            raise LookupError(f"No wizard block {key!r}.")
        cls = services.connector_class(connection.crm)
        self.connection, self.cls, self.key, self.data = connection, cls, key, data
        self.catalog = catalog or Catalog(connection)
        self.setting = ObjectSetting.objects.filter(
            connection=connection, object_type=self._object_type
        ).first()
        self.saved_options: dict[str, Any] = dict(self.setting.options or {}) if self.setting else {}
        self.saved_maps = {m.local_field: m for m in self.setting.mappings.all()} if self.setting else {}
        self.block = Block(key=key, label=BLOCK_LABELS[key], connection=connection, connector_class=cls)
        self._build()

    @property
    def _object_type(self) -> str:
        return "customers" if self.key == "data" else self.key

    def p(self, name: str) -> str:
        return f"{self.key}-{name}"

    def posted(self, name: str, default: str = "") -> str:
        if self.data is None:
            return default
        return str(self.data.get(self.p(name), "")).strip()

    def posted_list(self, name: str) -> list[str]:
        if self.data is None:
            return []
        getlist = getattr(self.data, "getlist", None)
        values = getlist(self.p(name)) if getlist else self.data.get(self.p(name), [])
        return [str(v).strip() for v in values]

    def posted_bool(self, name: str) -> bool:
        return self.data is not None and self.p(name) in self.data

    # -- building what renders --------------------------------------------------------------------------------
    def _build(self) -> None:
        block = self.block
        object_type = ObjectType(self._object_type)
        if self.key != "data":
            allowed = self.cls.allowed_modes(object_type)
            block.modes = [(m, SyncMode(m).label) for m in allowed]
            saved_mode = (
                self.setting.mode
                if self.setting
                else (
                    self.cls.objects[object_type].default_mode
                    if object_type in self.cls.objects
                    else SyncMode.DISABLED
                )
            )
            block.mode = self.posted("mode", saved_mode) if self.data is not None else saved_mode
            block.warning = self.cls.block_warnings.get(object_type, "")
        self._load_catalog(object_type)
        workspace = self.connection.workspace
        if self.key in ("customers", "contacts", "agreements", "interactions"):
            self._build_options(object_type)
        if self.key == "customers":
            block.phases = [
                (p.technical_name, p.label)
                for p in Phase.objects.filter(workspace=workspace).order_by("position")
            ]
            block.profiles = [(p.name, p.name) for p in HealthProfile.objects.filter(workspace=workspace)]
            customs = CustomField.objects.filter(workspace=workspace, target=CustomField.Target.CUSTOMER)
            rows = [*CUSTOMER_FIELDS, *((f"custom:{c.key}", c.label, False) for c in customs)]
            block.mappings = [self._mapping(local, label, required) for local, label, required in rows]
            block.extra["owns_customer_id"] = self.connection.owns_customer_id
            block.extra["id_owner"] = (
                Connection.objects.filter(workspace=workspace, owns_customer_id=True)
                .exclude(pk=self.connection.pk)
                .first()
            )
        elif self.key == "contacts":
            customs = CustomField.objects.filter(workspace=workspace, target=CustomField.Target.CONTACT)
            rows = [*CONTACT_FIELDS, *((f"custom:{c.key}", c.label, False) for c in customs)]
            block.mappings = [self._mapping(local, label, required) for local, label, required in rows]
            block.roles = [self._role(tag, label) for tag, label in RoleTag.choices]
        elif self.key == "agreements":
            block.mappings = [
                self._mapping(local, label, required) for local, label, required in AGREEMENT_FIELDS
            ]
            self._build_terms()
        elif self.key == "data":
            self._build_data()

    def _load_catalog(self, object_type: ObjectType) -> None:
        if self.key == "interactions":
            return
        try:
            self.block.crm_fields = self.catalog.fields(object_type)
        except (ConnectorError, LookupError, NotImplementedError) as error:
            self.block.crm_error = self._explain(error)

    def _explain(self, error: Exception) -> str:
        label = self.cls.label
        if isinstance(error, ConnectorError):
            if error.reconnect:
                return f"{label} refused the connection's credentials: reconnect the CRM, then retry."
            if error.rate_limited:
                return f"{label}'s API quota is spent for now; retry in a few minutes."
            return f"{label} could not list its fields: {error.message}"
        return f"{label} could not list its fields ({error})."

    def _build_options(self, object_type: ObjectType) -> None:
        rows = []
        for option in self.cls.options.get(object_type, ()):
            row = OptionRow(option=option, value=None, block_key=self.key)
            refused: dict[str, tuple[str, str]] = {}
            if option.choices_from:
                try:
                    row.choices = self.catalog.choices(option.choices_from)
                except (ConnectorError, LookupError) as error:
                    row.error = self._explain(error).replace("list its fields", "list its choices")
                    row.listed = False
            else:
                row.choices = list(option.choices)
            if option.workspace_choices:
                offered = WORKSPACE_CHOICES[option.workspace_choices](self.connection.workspace)
                row.choices += offered.choices
                refused = offered.refused
            saved = _get(self.saved_options, option.key, option.default)
            row.value = self._posted_option(row) if self.data is not None else saved
            if option.kind == "multichoice" and row.listed and row.choices:
                offered_values = {value for value, _ in row.choices}
                row.stale = {
                    value: refused.get(value) or self._stale_choice(option, value)
                    for value in row.selected
                    if value not in offered_values
                }
            rows.append(row)
        self.block.options = rows

    def _stale_choice(self, option: Option, value: str) -> tuple[str, str]:
        """The label and the problem of a chosen value no longer offered."""
        if option.workspace_choices and value.startswith("custom:"):
            key = value.removeprefix("custom:")
            return (
                f"{key} (custom field)",
                "This custom field no longer exists (deleted in Settings › Custom fields): untick it, "
                "or create the field again.",
            )
        if option.choices_from:
            return value, f"{self.cls.label} no longer offers it: untick it."
        return value, "No longer offered: untick it."

    def _posted_option(self, row: OptionRow) -> Any:
        kind, name = row.option.kind, f"opt-{row.name}"
        if kind == "bool":
            return self.posted_bool(name)
        if kind == "multichoice":
            # A value posted twice (a tampered form) counts once, where it first appears.
            values = list(dict.fromkeys(v for v in self.posted_list(name) if v))
            move = self.posted(f"{name}-move")
            if row.option.ordered and move:
                row.touched = True
                values = _moved(values, move)
            return values
        if kind == "values":
            return _split(self.posted(name))
        return self.posted(name)

    def _mapping(self, local: str, label: str, required: bool) -> MappingRow:
        saved = self.saved_maps.get(local)
        row = MappingRow(local=local, label=label, required=required)
        if self.data is None:
            if saved:
                row.remote, row.direction, row.clearable = (
                    saved.remote_field,
                    saved.direction,
                    saved.clearable,
                )
                row.values = [ValueRow(k, v) for k, v in (saved.value_table or {}).items()]
            else:
                row.direction = services._direction_for(self.block.mode)
        else:
            name = f"map-{row.name}"
            row.remote = self.posted(f"{name}-remote")
            row.direction = self.posted(f"{name}-direction") or services._direction_for(self.block.mode)
            row.clearable = self.posted_bool(f"{name}-clearable")
            row.values = [
                ValueRow(crm.strip(), loc.strip())
                for crm, loc in zip(
                    self.posted_list(f"{name}-crm"), self.posted_list(f"{name}-local"), strict=False
                )
                if crm.strip() or loc.strip()
            ]
        if local in VALUE_TABLES:
            self._value_rows(row)
        return row

    def _value_rows(self, row: MappingRow) -> None:
        """A picklist field lists its CRM values; any other field gets free rows."""
        crm_field = next((f for f in self.block.crm_fields or () if f.name == row.remote), None)
        chosen = {v.crm: v.local for v in row.values}
        if crm_field is not None and crm_field.options:
            row.picklist = True
            known = [ValueRow(value, chosen.pop(value, ""), label) for value, label in crm_field.options]
            row.values = known + [ValueRow(crm, local) for crm, local in chosen.items()]
        elif row.remote:
            row.values = row.values + [ValueRow("", "") for _ in range(EMPTY_VALUE_ROWS)]

    def _role(self, tag: str, label: str) -> MappingRow:
        local = f"role:{tag}"
        saved = self.saved_maps.get(local)
        row = MappingRow(local=local, label=f"{label} tag")
        if self.data is None:
            if saved:
                row.remote = saved.remote_field
                row.role_values = ", ".join(saved.value_table or {})
        else:
            row.remote = self.posted(f"map-{row.name}-remote")
            row.role_values = self.posted(f"map-{row.name}-values")
        return row

    def _build_terms(self) -> None:
        extra = self.block.extra
        extra["amount_format"] = (
            self.posted("amount_format")
            if self.data is not None
            else self.saved_options.get("amount_format", "")
        )
        for term in ("end", "notice"):
            saved = self.saved_options.get(term) or {}
            if self.data is None:
                extra[term] = {
                    "mode": saved.get("mode", "none"),
                    "field": saved.get("field", ""),
                    "unit": saved.get("unit", Interval.MONTH),
                    "value": "" if saved.get("value") is None else str(saved.get("value")),
                }
            else:
                extra[term] = {k: self.posted(f"{term}-{k}") for k in ("mode", "field", "unit", "value")}
                extra[term]["mode"] = extra[term]["mode"] or "none"
        saved_tacit = self.saved_options.get("tacit") or {}
        if self.data is None:
            extra["tacit"] = {
                "rule": saved_tacit.get("rule", "if_notice"),
                "field": saved_tacit.get("field", ""),
                "value": saved_tacit.get("value", ""),
            }
        else:
            extra["tacit"] = {k: self.posted(f"tacit-{k}") for k in ("rule", "field", "value")}
            extra["tacit"]["rule"] = extra["tacit"]["rule"] or "if_notice"
        extra["term_modes"], extra["units"], extra["tacit_rules"] = TERM_MODES, Interval.choices, TACIT_RULES
        extra["amount_formats"] = AMOUNT_FORMATS

    def _build_data(self) -> None:
        saved = self.saved_options.get("data_back") or {}
        creates = self.cls.creates_output_fields
        scores = []
        for key, label in SCORES:
            if self.data is None:
                on = bool(saved.get("enabled")) and saved.get(f"{key}_on", True)
                target = saved.get(key, "")
            else:
                on, target = self.posted_bool(f"{key}-on"), self.posted(f"{key}-field")
            scores.append({"key": key, "label": label, "on": on, "field": target})
        self.block.extra.update(scores=scores, creates=creates)

    # -- validating ------------------------------------------------------------------------------------------
    def is_valid(self) -> bool:
        block = self.block
        if self.key != "data" and block.mode not in dict(block.modes):
            names = ", ".join(label for _, label in block.modes)
            block.error("mode", f"Choose one of: {names}.")
        active = self.key == "data" or block.mode != SyncMode.DISABLED
        # A disabled block's options are kept as they are, checked once it is enabled again.
        if active:
            for row in block.options:
                self._check_option(row)
            self._check_merge_keys()
        writable = {f.name: f.writable for f in block.crm_fields or ()}
        for mapping_row in block.mappings:
            self._check_mapping(mapping_row, active, writable)
        for role in block.roles:
            if role.remote and not _split(role.role_values):
                role.errors["values"] = "Give the CRM value(s) that mean this tag, or clear the field."
            if role.role_values and not role.remote:
                role.errors["remote"] = "Choose the CRM field holding these values."
        if self.key == "agreements" and active:
            self._check_terms()
        if self.key == "interactions" and active:
            kinds = next((o for o in block.options if o.option.key == "kinds"), None)
            if kinds is not None and not kinds.value:
                kinds.error = "Choose at least one kind of interaction, or set the block to Disabled."
        if self.key == "data":
            for score in block.extra["scores"]:
                if score["on"] and not score["field"] and not block.extra["creates"]:
                    block.error(
                        f"{score['key']}_field",
                        f"Choose the {self.cls.label} field receiving the {score['label']} "
                        f"(a number field you created in {self.cls.label}).",
                    )
                if score["field"] and writable and writable.get(score["field"]) is False:
                    block.error(
                        f"{score['key']}_field", f"{self.cls.label} does not let anyone write this field."
                    )
        return not block.has_errors

    def _check_option(self, row: OptionRow) -> None:
        if row.error or not row.choices:
            return
        allowed = {value for value, _ in row.choices}
        if row.option.kind == "choice" and row.value and row.value not in allowed:
            row.error = "This choice is no longer offered by the CRM; pick another."
        if row.option.kind == "multichoice" and row.stale:
            names = ", ".join(f"“{label}”" for label, _ in row.stale.values())
            them = "them" if len(row.stale) > 1 else "it"
            row.error = f"No longer available: {names}. Untick {them} (see why above), then save again."

    def _check_merge_keys(self) -> None:
        """Merge keys matter when the block reads the CRM: at least one, and a custom field only when a CRM
        field is read into it (otherwise the CRM record has no value to compare)."""
        row = next((o for o in self.block.options if o.option.key == MERGE_KEYS.key), None)
        if row is None or row.error or self.block.mode not in (SyncMode.INPUT, SyncMode.TWO_WAYS):
            return
        if not row.selected:
            # The engine falls back to Customer ID, name and domain on an empty list: "no merge field"
            # cannot be stored, so it is refused rather than silently replaced.
            row.error = (
                "Keep at least one merge field: Skalin needs one to find a customer it already has "
                "instead of creating a duplicate."
            )
            return
        read = {
            mapping.local
            for mapping in self.block.mappings
            if mapping.remote and mapping.direction in (FieldDirection.INPUT, FieldDirection.TWO_WAYS)
        }
        labels = dict(row.choices)
        unread = [labels.get(v, v) for v in row.selected if v.startswith("custom:") and v not in read]
        if unread:
            names = ", ".join(f"“{label}”" for label in unread)
            row.error = (
                f"{names} can merge only once a {self.cls.label} field is read into it: map one to it in "
                "the fields above (“CRM to Skalin” or “Both ways”), or untick it."
            )

    def _check_mapping(self, row: MappingRow, active: bool, writable: dict[str, bool]) -> None:
        errors = row.errors
        if row.required and active and not row.remote:
            errors["remote"] = f"{row.label} is required: choose the CRM field holding it."
        if row.direction not in FieldDirection.values:
            errors["direction"] = "Choose a direction."
        elif row.remote and row.direction != FieldDirection.INPUT:
            if row.remote == ID_FIELD:
                errors["direction"] = "The CRM's own record id can only be read: keep “CRM to Skalin”."
            elif writable.get(row.remote) is False:
                errors["direction"] = (
                    f"{self.cls.label} does not let anyone write this field: keep “CRM to Skalin”."
                )
        if row.local in VALUE_TABLES:
            crm_values = [v.crm for v in row.values if v.crm]
            if len(crm_values) != len({v.casefold() for v in crm_values}):
                errors["values"] = "A CRM value appears twice in the table."
            elif any(v.local and not v.crm for v in row.values):
                errors["values"] = "Each row needs its CRM value."
            elif not row.picklist and any(v.crm and not v.local for v in row.values):
                errors["values"] = "Each CRM value needs its Skalin value."

    def _check_terms(self) -> None:
        extra, block = self.block.extra, self.block
        if extra["amount_format"] not in dict(AMOUNT_FORMATS):
            block.error("amount_format", "Say whether the CRM's amounts are MRR or ARR.")
        for term, label in (("end", "contract end"), ("notice", "notice period")):
            spec = extra[term]
            if spec["mode"] not in dict(TERM_MODES):
                block.error(f"{term}_mode", "Choose how it is expressed.")
            elif spec["mode"] in ("duration", "date") and not spec["field"]:
                block.error(f"{term}_field", f"Choose the CRM field holding the {label}.")
            elif spec["mode"] == "manual" and (not spec["value"].isdigit() or int(spec["value"]) <= 0):
                block.error(f"{term}_value", "Give a whole number greater than 0.")
            if spec["mode"] in ("duration", "manual") and spec["unit"] not in Interval.values:
                block.error(f"{term}_unit", "Choose an interval.")
        tacit = extra["tacit"]
        if tacit["rule"] not in dict(TACIT_RULES):
            block.error("tacit_rule", "Choose a tacit renewal rule.")
        elif tacit["rule"] == "field" and not tacit["field"]:
            block.error("tacit_field", "Choose the CRM field that says the contract renews tacitly.")

    # -- saving ----------------------------------------------------------------------------------------------
    def options(self) -> dict[str, Any]:
        """The block's options over the saved ones: keys the wizard does not show are kept."""
        options = dict(self.saved_options)
        for row in self.block.options:
            _set(options, row.option.key, row.value)
        if self.key == "agreements":
            extra = self.block.extra
            options["amount_format"] = extra["amount_format"]
            for term in ("end", "notice"):
                spec = dict(extra[term])
                spec["value"] = (
                    int(spec["value"]) if spec["mode"] == "manual" and spec["value"].isdigit() else None
                )
                options[term] = {k: v for k, v in spec.items() if v not in ("", None) or k == "mode"}
            tacit = extra["tacit"]
            options["tacit"] = {k: v for k, v in tacit.items() if v}
        return options

    def data_back(self) -> dict[str, Any]:
        scores = self.block.extra["scores"]
        data_back: dict[str, Any] = {"enabled": any(s["on"] for s in scores)}
        for score in scores:
            data_back[score["key"]] = score["field"] if score["on"] else ""
            data_back[f"{score['key']}_on"] = score["on"]
        return data_back

    def mappings(self) -> list[dict[str, Any]]:
        shown = {row.local for row in self.block.mappings} | {row.local for row in self.block.roles}
        rows: list[dict[str, Any]] = [
            {
                "local_field": m.local_field,
                "remote_field": m.remote_field,
                "direction": m.direction,
                "clearable": m.clearable,
                "value_table": m.value_table,
            }
            for local, m in self.saved_maps.items()
            if local not in shown
        ]
        for row in self.block.mappings:
            if not row.remote:
                continue
            table = (
                {v.crm: v.local for v in row.values if v.crm and v.local} if row.local in VALUE_TABLES else {}
            )
            rows.append(
                {
                    "local_field": row.local,
                    "remote_field": row.remote,
                    "direction": row.direction,
                    "clearable": row.clearable,
                    "value_table": table,
                }
            )
        for role in self.block.roles:
            if role.remote:
                values = {value: "yes" for value in _split(role.role_values)}
                rows.append({"local_field": role.local, "remote_field": role.remote, "value_table": values})
        return rows


def wizard_forms(
    connection: Connection, *, data: Mapping[str, Any] | None = None, refresh: bool = False
) -> dict[str, BlockForm]:
    """Every block, sharing one catalog (one connector, one cache)."""
    catalog = Catalog(connection, refresh=refresh)
    return {key: BlockForm(connection, key, data=data, catalog=catalog) for key in BLOCKS}


def wizard_save(connection: Connection, forms: Mapping[str, BlockForm]) -> bool:
    """Save the posted blocks; True when what syncs changed (a plan is due)."""
    before = _fingerprint(connection)
    customers = forms.get("customers")
    data = forms.get("data")
    for key in ("customers", "contacts", "agreements", "interactions"):
        form = forms.get(key)
        if form is None:
            continue
        options = form.options()
        if key == "customers" and data is not None:
            options["data_back"] = data.data_back()
        services.object_setting_update(
            connection=connection,
            object_type=key,
            mode=form.block.mode,
            options=options,
            mappings=form.mappings(),
        )
    if data is not None and customers is None:
        setting, _ = ObjectSetting.objects.get_or_create(connection=connection, object_type="customers")
        setting.options = {**(setting.options or {}), "data_back": data.data_back()}
        setting.save(update_fields=["options", "updated_at"])
    return _fingerprint(connection) != before


def _fingerprint(connection: Connection) -> dict[str, tuple[str, str, str]]:
    import json

    result = {}
    for setting in ObjectSetting.objects.filter(connection=connection).prefetch_related("mappings"):
        data_back = json.dumps((setting.options or {}).get("data_back") or {}, sort_keys=True)
        result[setting.object_type] = (setting.mode, services.setting_config_hash(setting), data_back)
    return result
