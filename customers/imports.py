"""CSV import of customers and agreements: reading the file, checking each cell, upserting through the
domain services. No HTTP here: `import_csv()` takes the file's bytes and returns an `ImportResult`.

Each row is applied in its own savepoint, so a bad row is reported (line, column, message) and the good
rows still land. A blank cell never erases a stored value."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, TypeVar

from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import Model

from agreements.models import MANUAL_STATUSES, Agreement, AgreementStatus, AmountPeriod, Interval
from agreements.services import agreement_create, agreement_update
from workspaces.models import Membership, Workspace

from .changes import Actor
from .models import Customer, CustomField, HealthProfile, Phase
from .services import (
    custom_value_parse,
    customer_create,
    customer_update,
    normalise_domain,
    tags_get_or_create,
)

MAX_FILE_BYTES = 5 * 1024 * 1024
CSV_SOURCE = "csv"
CENT = Decimal("0.01")
MAX_AMOUNT = Decimal("999999999999.99")  # Agreement.amount: 14 digits, 2 of them decimals

Outcome = Literal["created", "updated", "unchanged"]
T = TypeVar("T")


class ImportFileError(Exception):
    """The whole file is refused (nothing was imported); the message says what to fix."""


@dataclass(frozen=True)
class RowError:
    line: int
    column: str
    message: str


@dataclass
class ImportResult:
    kind: str
    filename: str = ""
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)

    @property
    def error_rows(self) -> int:
        return len({error.line for error in self.errors})

    @property
    def total_rows(self) -> int:
        return self.created + self.updated + self.unchanged + self.error_rows


# ---- reading the file ---------------------------------------------------------------------------------


@dataclass
class CsvTable:
    columns: list[str]
    rows: list[tuple[int, dict[str, str]]]  # (line number in the file, cells by column)
    # Rows whose shape is wrong (more cells than columns): reported without being read.
    bad_rows: list[RowError] = field(default_factory=list)


def column_name(raw: str) -> str:
    """Headers are matched leniently: 'Customer ID' and 'customer_id' are the same column."""
    return re.sub(r"\s+", "_", raw.strip().lower())


def read_csv(data: bytes) -> CsvTable:
    """UTF-8 with or without BOM; comma or semicolon, whichever the header line uses."""
    if len(data) > MAX_FILE_BYTES:
        size = len(data) / (1024 * 1024)
        raise ImportFileError(
            f"The file is {size:.1f} MB; the limit is 5 MB. Split it into smaller files and import each."
        )
    if not data.strip():
        raise ImportFileError("The file is empty.")
    if data.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        raise ImportFileError(
            "This is a spreadsheet (Excel) file, not a CSV. In your spreadsheet, use Save as > "
            "'CSV UTF-8 (comma delimited)' and import that file."
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as bad:
        raise ImportFileError(
            "The file is not UTF-8 text. Save it as 'CSV UTF-8' (in Excel: Save as > CSV UTF-8) and "
            "import it again."
        ) from bad
    if not text.strip():
        raise ImportFileError("The file is empty.")
    if "\x00" in text:
        raise ImportFileError("This does not look like a CSV file (it contains binary data).")

    header_line = next(line for line in text.splitlines() if line.strip())
    delimiter = ";" if header_line.count(";") > header_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    header: list[str] | None = None
    columns: list[str] = []
    table = CsvTable(columns=columns, rows=[])
    next_line = 1
    try:
        for cells in reader:
            line, next_line = next_line, reader.line_num + 1
            if not any(cell.strip() for cell in cells):
                continue
            if header is None:
                header = cells
                columns.extend(column_name(cell) for cell in cells)
                duplicates = sorted({name for name in columns if name and columns.count(name) > 1})
                if duplicates:
                    raise ImportFileError(
                        f"The header has the column {', '.join(repr(d) for d in duplicates)} more than once."
                    )
                continue
            extra = [cell for cell in cells[len(columns) :] if cell.strip()]
            if extra:
                table.bad_rows.append(
                    RowError(
                        line,
                        "",
                        f"This row has {len(cells)} values but the header has {len(columns)} columns; "
                        "a value that contains the delimiter must be in double quotes.",
                    )
                )
                continue
            table.rows.append(
                (line, {name: cell.strip() for name, cell in zip(columns, cells, strict=False) if name})
            )
    except csv.Error as bad:
        raise ImportFileError(f"Line {reader.line_num} is not valid CSV ({bad}).") from bad
    if not table.rows and not table.bad_rows:
        raise ImportFileError("The file has a header row but no data rows.")
    return table


def check_header(columns: list[str], *, known: list[str], required: tuple[tuple[str, ...], ...]) -> list[str]:
    """Refuse a file that lacks a required column; return the columns that will be ignored."""
    present = set(columns)
    missing = [alternatives for alternatives in required if not present.intersection(alternatives)]
    if missing:
        wanted = "; ".join(" or ".join(f"'{name}'" for name in alternatives) for alternatives in missing)
        raise ImportFileError(
            f"Missing column{'s' if len(missing) > 1 else ''}: {wanted}. The first row must name the "
            "columns; expected: "
            f"{', '.join(known)}."
        )
    return [name for name in columns if name and name not in known]


# ---- cell parsers: each raises ValueError with a message for the user ---------------------------------


def parse_amount(raw: str) -> Decimal:
    """Accepts 1234.50, 1 234,50, 1,234.50, 1.234,50 (and a currency sign). '1,234' alone is refused:
    it means 1234 or 1.234 depending on the country, and money is never guessed."""
    text = raw.strip()
    for noise in (" ", "\u00a0", "\u202f", "'", "€", "$", "£"):
        text = text.replace(noise, "")
    if "," in text and "." in text:
        decimal_mark = "," if text.rfind(",") > text.rfind(".") else "."
        thousands = "." if decimal_mark == "," else ","
        text = text.replace(thousands, "").replace(decimal_mark, ".")
    elif text.count(",") > 1 or text.count(".") > 1:
        text = text.replace(",", "").replace(".", "")
    elif "," in text or "." in text:
        whole, _, fraction = text.replace(",", ".").partition(".")
        if len(fraction) == 3 and whole.lstrip("-").isdigit() and whole.lstrip("-") != "0":
            raise ValueError(
                f"'{raw}' is ambiguous (thousands or decimals?); write it like 1234.00 or 1 234,00."
            )
        text = f"{whole}.{fraction}"
    try:
        amount = Decimal(text)
    except InvalidOperation as bad:
        raise ValueError(f"'{raw}' is not an amount; write it like 1234.50 or 1 234,50.") from bad
    if not amount.is_finite():
        raise ValueError(f"'{raw}' is not an amount; write it like 1234.50 or 1 234,50.")
    if amount < 0:
        raise ValueError(f"'{raw}' is negative; amounts cannot be negative.")
    if amount != amount.quantize(CENT):
        raise ValueError(f"'{raw}' has more than two decimals.")
    if amount > MAX_AMOUNT:
        raise ValueError(f"'{raw}' is too large.")
    return amount.quantize(CENT)


_DMY = re.compile(r"^(\d{1,2})[/.](\d{1,2})[/.](\d{4})$")
_ISO = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:[T ][\d:.+Z-]*)?$")


def parse_date(raw: str) -> dt.date:
    """ISO YYYY-MM-DD (a time after it is ignored) or DD/MM/YYYY."""
    text = raw.strip()
    iso, dmy = _ISO.match(text), _DMY.match(text)
    try:
        if iso:
            return dt.date.fromisoformat(iso.group(1))
        if dmy:
            return dt.date(int(dmy.group(3)), int(dmy.group(2)), int(dmy.group(1)))
    except ValueError as bad:
        raise ValueError(f"'{raw}' is not a real date.") from bad
    raise ValueError(f"'{raw}' is not a date; use YYYY-MM-DD (2025-01-31) or DD/MM/YYYY (31/01/2025).")


_UNITS = {
    Interval.DAY: ("d", "day", "days", "jour", "jours"),
    Interval.WEEK: ("w", "wk", "week", "weeks", "semaine", "semaines"),
    Interval.MONTH: ("m", "mo", "mon", "month", "months", "mois"),
    Interval.YEAR: ("y", "yr", "yrs", "year", "years", "an", "ans", "année", "années"),
}
_UNIT_OF = {word: unit for unit, words in _UNITS.items() for word in words}
_INTERVAL = re.compile(r"^(\d+)\s*([^\d\s.]+)\.?$")


def parse_interval(raw: str) -> tuple[int, str]:
    """'12 months', '1 year', '30 days', '2 weeks' -> (value, Interval)."""
    match = _INTERVAL.match(raw.strip().lower())
    unit = _UNIT_OF.get(match.group(2)) if match else None
    if match is None or unit is None:
        raise ValueError(
            f"'{raw}' is not a period; write a number and a unit, like 12 months, 1 year or 30 days."
        )
    value = int(match.group(1))
    if value < 1:
        raise ValueError(f"'{raw}' must be at least 1 {Interval(unit).label}.")
    return value, unit


_YES = ("yes", "y", "true", "1", "oui")
_NO = ("no", "n", "false", "0", "non")


def parse_bool(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in _YES:
        return True
    if lowered in _NO:
        return False
    raise ValueError(f"'{raw}' is not yes or no (accepted: yes/no, true/false, 1/0).")


def parse_period(raw: str) -> str:
    lowered = raw.strip().lower()
    if lowered in ("mrr", "month", "monthly", "per month"):
        return AmountPeriod.MRR
    if lowered in ("arr", "year", "yearly", "annual", "per year"):
        return AmountPeriod.ARR
    raise ValueError(f"'{raw}' is not MRR or ARR.")


def parse_status(raw: str) -> str:
    """A person sets pending, paused or cancelled; 'active' hands the status back to the dates."""
    lowered = raw.strip().lower()
    if lowered in (*MANUAL_STATUSES, AgreementStatus.ACTIVE):
        return lowered
    raise ValueError(
        f"'{raw}' is not a status you can set; use pending, paused or cancelled (or active to let the "
        "dates decide), or leave it empty."
    )


def split_tags(raw: str) -> list[str]:
    return [name.strip() for name in re.split(r"[;|]", raw) if name.strip()]


# ---- one row ------------------------------------------------------------------------------------------


class _RowInvalid(Exception):
    pass


class _Row:
    """The cells of one data row, and the problems found in them."""

    def __init__(self, cells: dict[str, str]) -> None:
        self.cells = cells
        self.errors: list[tuple[str, str]] = []

    def get(self, column: str) -> str:
        return self.cells.get(column, "")

    def fail(self, column: str, message: str) -> None:
        self.errors.append((column, message))

    def parse(self, column: str, parser: Callable[[str], T]) -> T | None:
        """The parsed cell, or None when it is blank or bad (a bad one is recorded)."""
        raw = self.get(column)
        if not raw:
            return None
        try:
            return parser(raw)
        except ValueError as bad:
            self.fail(column, str(bad))
        except ValidationError as bad:
            self.fail(column, " ".join(bad.messages))
        return None

    def check_lengths(self, limits: dict[str, int]) -> None:
        for column, limit in limits.items():
            if len(self.get(column)) > limit:
                self.fail(
                    column, f"This value is {len(self.get(column))} characters long; the limit is {limit}."
                )

    def raise_if_errors(self) -> None:
        if self.errors:
            raise _RowInvalid


def _differs(row: Model, name: str, value: Any) -> bool:
    if isinstance(value, Model):
        return getattr(row, f"{name}_id") != value.pk
    return bool(getattr(row, name) != value)


def _run_rows(
    result: ImportResult,
    table: CsvTable,
    handle: Callable[[_Row], Outcome],
    service_columns: dict[str, str],
) -> ImportResult:
    result.errors.extend(table.bad_rows)
    for line, cells in table.rows:
        row = _Row(cells)
        try:
            with transaction.atomic():
                outcome = handle(row)
        except _RowInvalid:
            result.errors.extend(RowError(line, column, message) for column, message in row.errors)
        except ValidationError as bad:
            if hasattr(bad, "error_dict"):
                for name, messages in bad.message_dict.items():
                    column = service_columns.get(name, name if name != "__all__" else "")
                    result.errors.extend(RowError(line, column, message) for message in messages)
            else:
                result.errors.extend(RowError(line, "", message) for message in bad.messages)
        except IntegrityError:
            result.errors.append(
                RowError(
                    line, "", "This row clashes with data saved at the same time; import the file again."
                )
            )
        except DatabaseError:
            # A value the checks above let through but the database refuses: this row only, never the file.
            result.errors.append(
                RowError(line, "", "The database refused a value of this row; check its cells.")
            )
        else:
            setattr(result, outcome, getattr(result, outcome) + 1)
    result.errors.sort(key=lambda error: error.line)
    return result


# ---- customers ----------------------------------------------------------------------------------------

CUSTOMER_COLUMNS = [
    "name",
    "customer_id",
    "domain",
    "owner_email",
    "stage",
    "tags",
    "health_profile",
    "parent_customer_id",
]
CUSTOMER_REQUIRED: tuple[tuple[str, ...], ...] = (("name",),)
CUSTOMER_LIMITS = {
    "name": 200,
    "customer_id": 120,
    "domain": 253,
    "health_profile": 80,
    "parent_customer_id": 120,
}
TAG_LIMIT = 60
CUSTOMER_SERVICE_COLUMNS = {
    "name": "name",
    "domain": "domain",
    "ref_id": "customer_id",
    "owner": "owner_email",
    "phase": "stage",
    "health_profile": "health_profile",
    "parent": "parent_customer_id",
    "tags": "tags",
}


def customer_field_columns(workspace: Workspace) -> dict[str, CustomField]:
    """CSV columns of the customer custom fields: `custom:<key>` always, bare `<key>` unless it is
    the name of a built-in column."""
    columns: dict[str, CustomField] = {}
    for custom in CustomField.objects.filter(workspace=workspace, target=CustomField.Target.CUSTOMER):
        key = custom.key.lower()
        columns[f"custom:{key}"] = custom
        if key not in CUSTOMER_COLUMNS:
            columns[key] = custom
    return columns


def _custom_parser(custom: CustomField) -> Callable[[str], Any]:
    def parse(raw: str) -> Any:
        return custom_value_parse(field=custom, raw=raw)

    return parse


class _CustomerImport:
    def __init__(self, *, workspace: Workspace, actor: Actor, columns: list[str]) -> None:
        self.workspace = workspace
        self.actor = actor
        phases = list(Phase.objects.filter(workspace=workspace))
        self.phase_names = [phase.technical_name for phase in phases]
        # Technical names win over labels (a CRM or an export usually carries the technical name).
        self.phases = {phase.label.casefold(): phase for phase in phases} | {
            phase.technical_name.lower(): phase for phase in phases
        }
        self.members = {
            membership.user.email.lower(): membership.user
            for membership in Membership.objects.filter(workspace=workspace).select_related("user")
        }
        self.profiles = {
            profile.name.casefold(): profile for profile in HealthProfile.objects.filter(workspace=workspace)
        }
        self.custom = {
            name: custom for name, custom in customer_field_columns(workspace).items() if name in columns
        }

    def member(self, raw: str) -> Any:
        user = self.members.get(raw.lower())
        if user is None:
            raise ValueError(
                f"'{raw}' is not a member of this workspace; invite them in Settings > Users, or leave "
                "the cell empty."
            )
        return user

    def phase(self, raw: str) -> Phase:
        phase = self.phases.get(raw.lower()) or self.phases.get(raw.casefold())
        if phase is None:
            raise ValueError(
                f"Unknown stage '{raw}'; use one of {', '.join(self.phase_names)} (or their labels)."
            )
        return phase

    def parent(self, raw: str) -> Customer:
        parent = Customer.objects.filter(workspace=self.workspace, ref_id=raw).first()
        if parent is None:
            raise ValueError(
                f"No customer has the Customer ID '{raw}'; import the parent first (an earlier row of "
                "this file will do)."
            )
        return parent

    def match(self, row: _Row) -> Customer | None:
        """By Customer ID; a new Customer ID may name a customer that has none yet (same exact name),
        which then gets it; without a Customer ID, by exact name."""
        ref_id, name = row.get("customer_id"), row.get("name")
        customers = Customer.objects.filter(workspace=self.workspace)
        if ref_id:
            found = customers.filter(ref_id=ref_id).first()
            if found is not None or not name:
                return found
            customers = customers.filter(ref_id="")
        if not name:
            return None
        named = list(customers.filter(name=name)[:2])
        if len(named) > 1:
            row.fail(
                "name" if not ref_id else "customer_id",
                f"Several customers are named '{name}'; give a customer_id to say which one.",
            )
            return None
        return named[0] if named else None

    def __call__(self, row: _Row) -> Outcome:
        row.check_lengths(CUSTOMER_LIMITS)
        long_tags = [name for name in split_tags(row.get("tags")) if len(name) > TAG_LIMIT]
        if long_tags:
            row.fail("tags", f"A tag is {TAG_LIMIT} characters at most: '{long_tags[0][:20]}...' is longer.")
        row.raise_if_errors()
        customer = self.match(row)
        owner = row.parse("owner_email", self.member)
        phase = row.parse("stage", self.phase)
        parent_ref = row.get("parent_customer_id")
        if parent_ref and parent_ref == row.get("customer_id"):
            row.fail("parent_customer_id", "A customer cannot be its own parent.")
            parent = None
        else:
            parent = row.parse("parent_customer_id", self.parent)
        custom_values: dict[str, Any] = {}
        for column, custom in self.custom.items():
            value = row.parse(column, _custom_parser(custom))
            if value is not None:
                custom_values[custom.key] = value
        if customer is None and not row.get("name") and not row.errors:
            row.fail("name", "A new customer needs a name.")
        row.raise_if_errors()

        wanted: dict[str, Any] = {}
        for name, value in (
            ("name", row.get("name")),
            ("ref_id", row.get("customer_id")),
            ("domain", normalise_domain(row.get("domain"))),
            ("owner", owner),
            ("phase", phase),
            ("parent", parent),
        ):
            if value:
                wanted[name] = value
        profile_name = row.get("health_profile")
        if profile_name:
            wanted["health_profile"] = self.profiles.get(profile_name.casefold())
            if wanted["health_profile"] is None:
                profile = HealthProfile.objects.create(workspace=self.workspace, name=profile_name)
                self.profiles[profile_name.casefold()] = wanted["health_profile"] = profile
        tag_names = split_tags(row.get("tags"))
        tags = tags_get_or_create(workspace=self.workspace, names=tag_names) if tag_names else []

        if customer is None:
            customer_create(
                workspace=self.workspace, actor=self.actor, tags=tags, custom_values=custom_values, **wanted
            )
            return "created"
        changes = {name: value for name, value in wanted.items() if _differs(customer, name, value)}
        # Tags are added, never removed: an import does not know which tags were set by hand.
        current_tags = list(customer.tags.all())
        new_tags = [tag for tag in tags if tag.pk not in {t.pk for t in current_tags}]
        if new_tags:
            changes["tags"] = current_tags + new_tags
        changed_values = {
            key: value for key, value in custom_values.items() if customer.custom_values.get(key) != value
        }
        if changed_values:
            changes["custom_values"] = changed_values
        if not changes:
            return "unchanged"
        customer_update(customer=customer, actor=self.actor, **changes)
        return "updated"


# ---- agreements ---------------------------------------------------------------------------------------

AGREEMENT_COLUMNS = [
    "customer_id",
    "customer_name",
    "agreement_id",
    "plan_name",
    "amount",
    "amount_period",
    "one_time_fee",
    "start_date",
    "end_date",
    "duration",
    "notice",
    "notice_date",
    "tacit_renewal",
    "status",
]
AGREEMENT_REQUIRED: tuple[tuple[str, ...], ...] = (
    ("customer_id", "customer_name"),
    ("amount",),
    ("start_date",),
    ("end_date", "duration"),
)
AGREEMENT_LIMITS = {"plan_name": 200, "agreement_id": 120}
AGREEMENT_SERVICE_COLUMNS = {
    "amount": "amount",
    "one_time_fee": "one_time_fee",
    "start_date": "start_date",
    "end_date": "end_date",
    "duration_value": "duration",
    "notice_value": "notice",
    "notice_date": "notice_date",
    "status": "status",
    "plan_name": "plan_name",
}


class _AgreementImport:
    def __init__(self, *, workspace: Workspace, actor: Actor, today: dt.date | None) -> None:
        self.workspace = workspace
        self.actor = actor
        self.today = today

    def customer(self, row: _Row) -> Customer | None:
        customers = Customer.objects.filter(workspace=self.workspace)
        ref_id, name = row.get("customer_id"), row.get("customer_name")
        if ref_id:
            found = customers.filter(ref_id=ref_id).first()
            if found is None:
                row.fail("customer_id", f"No customer has the Customer ID '{ref_id}'.")
            return found
        if not name:
            row.fail("customer_id", "Give the customer_id or the customer_name of the customer.")
            return None
        named = list(customers.filter(name=name)[:2])
        if len(named) > 1:
            row.fail("customer_name", f"Several customers are named '{name}'; use customer_id instead.")
        elif not named:
            row.fail("customer_name", f"No customer is named '{name}'.")
        return named[0] if len(named) == 1 else None

    def __call__(self, row: _Row) -> Outcome:
        row.check_lengths(AGREEMENT_LIMITS)
        customer = self.customer(row)
        external_id = row.get("agreement_id")
        existing: Agreement | None = None
        if external_id:
            existing = (
                Agreement.objects.filter(workspace=self.workspace, source=CSV_SOURCE, external_id=external_id)
                .select_related("customer")
                .first()
            )
            if existing is not None and customer is not None and existing.customer_id != customer.pk:
                row.fail(
                    "agreement_id",
                    f"Agreement '{external_id}' belongs to {existing.customer}, not to {customer}.",
                )
        plan_name = row.get("plan_name")
        amount = row.parse("amount", parse_amount)
        period = row.parse("amount_period", parse_period)
        fee = row.parse("one_time_fee", parse_amount)
        start = row.parse("start_date", parse_date)
        end = row.parse("end_date", parse_date)
        duration = row.parse("duration", parse_interval)
        notice = row.parse("notice", parse_interval)
        notice_date = row.parse("notice_date", parse_date)
        tacit = row.parse("tacit_renewal", parse_bool)
        status = row.parse("status", parse_status)
        if existing is None and not external_id and customer is not None and start is not None:
            # Without an agreement_id, the same plan starting the same day is the same contract: this
            # keeps a re-import of the same file from doubling the customer's MRR.
            existing = customer.agreements.filter(
                source=CSV_SOURCE, external_id="", plan_name=plan_name, start_date=start
            ).first()
        if existing is None:
            if not row.get("amount"):
                row.fail("amount", "The amount is required.")
            if not row.get("start_date"):
                row.fail("start_date", "The start date is required.")
            if not row.get("end_date") and not row.get("duration"):
                row.fail("end_date / duration", "Give an end_date or a duration (like 12 months).")
        row.raise_if_errors()
        assert customer is not None

        fields: dict[str, Any] = {}
        if plan_name:
            fields["plan_name"] = plan_name
        for name, value in (
            ("amount", amount),
            ("amount_period", period),
            ("one_time_fee", fee),
            ("start_date", start),
            ("tacit_renewal", tacit),
        ):
            if value is not None:
                fields[name] = value
        # An end date and a duration say the same thing (and the end date would win), so giving one
        # replaces the other; likewise for the notice.
        if end is not None:
            fields["end_date"] = end
        if duration is not None:
            fields["duration_value"], fields["duration_unit"] = duration
            if end is None:
                fields["end_date"] = None
        elif end is not None:
            fields["duration_value"], fields["duration_unit"] = None, ""
        if notice_date is not None:
            fields["notice_date"] = notice_date
        if notice is not None:
            fields["notice_value"], fields["notice_unit"] = notice
            if notice_date is None:
                fields["notice_date"] = None
        elif notice_date is not None:
            fields["notice_value"], fields["notice_unit"] = None, ""
        if status and (
            status != AgreementStatus.ACTIVE or existing is None or existing.status in MANUAL_STATUSES
        ):
            fields["status"] = status

        if existing is None:
            agreement_create(
                customer=customer,
                actor=self.actor,
                today=self.today,
                source=CSV_SOURCE,
                external_id=external_id,
                **fields,
            )
            return "created"
        changes = {name: value for name, value in fields.items() if _differs(existing, name, value)}
        if not changes:
            return "unchanged"
        agreement_update(agreement=existing, actor=self.actor, today=self.today, **changes)
        return "updated"


# ---- entry points -------------------------------------------------------------------------------------

KINDS = {"customers": "Customers", "agreements": "Agreements"}


def expected_columns(*, workspace: Workspace, kind: str) -> list[str]:
    if kind == "agreements":
        return list(AGREEMENT_COLUMNS)
    custom = CustomField.objects.filter(workspace=workspace, target=CustomField.Target.CUSTOMER)
    return CUSTOMER_COLUMNS + [f"custom:{field.key}" for field in custom]


def import_csv(
    *,
    workspace: Workspace,
    user: Any,
    kind: str,
    filename: str,
    data: bytes,
    today: dt.date | None = None,
) -> ImportResult:
    """Import a CSV of customers or agreements. Raises ImportFileError when the whole file is refused."""
    if kind not in KINDS:
        raise ImportFileError(f"Choose what the file contains: {', '.join(KINDS)}.")
    table = read_csv(data)
    actor = Actor.for_import(user, filename)
    result = ImportResult(kind=kind, filename=filename)
    if kind == "customers":
        known = CUSTOMER_COLUMNS + list(customer_field_columns(workspace))
        result.ignored_columns = check_header(table.columns, known=known, required=CUSTOMER_REQUIRED)
        handler: Callable[[_Row], Outcome] = _CustomerImport(
            workspace=workspace, actor=actor, columns=table.columns
        )
        return _run_rows(result, table, handler, CUSTOMER_SERVICE_COLUMNS)
    result.ignored_columns = check_header(table.columns, known=AGREEMENT_COLUMNS, required=AGREEMENT_REQUIRED)
    handler = _AgreementImport(workspace=workspace, actor=actor, today=today)
    return _run_rows(result, table, handler, AGREEMENT_SERVICE_COLUMNS)


def sample_csv(*, workspace: Workspace, kind: str, owner_email: str = "") -> str:
    """A header row and one example row, to start a file from."""
    if kind == "agreements":
        example: dict[str, str] = {
            "customer_id": "C-1001",
            "customer_name": "Acme Corp",
            "agreement_id": "A-2025-001",
            "plan_name": "Business",
            "amount": "1200.00",
            "amount_period": "MRR",
            "one_time_fee": "500.00",
            "start_date": "2025-01-01",
            "end_date": "",
            "duration": "12 months",
            "notice": "1 month",
            "notice_date": "",
            "tacit_renewal": "yes",
            "status": "",
        }
    else:
        phase = Phase.objects.filter(workspace=workspace, is_default=True).first()
        example = {
            "name": "Acme Corp",
            "customer_id": "C-1001",
            "domain": "acme.com",
            "owner_email": owner_email,
            "stage": phase.technical_name if phase else "",
            "tags": "vip;beta",
            "health_profile": "",
            "parent_customer_id": "",
        }
    columns = expected_columns(workspace=workspace, kind=kind)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    writer.writerow([example.get(column, "") for column in columns])
    return out.getvalue()
