"""Read-side queries of the customer pages. Every one starts from `workspaces.access.visible`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import F, OrderBy, Q, QuerySet

from agreements.models import Agreement, SkippedAgreement
from interactions.models import Interaction
from workspaces.access import visible
from workspaces.models import Membership

from .models import CHURN_PHASE, ChangeLog, Contact, Customer, CustomerSource, CustomField

AT_RISK_SCORE = 3

# Sort key -> columns, ascending. Nullable columns go last in both directions so that customers with no
# renewal or no contact never crowd the top of the list; `id` keeps pages stable between requests.
SORTS: dict[str, tuple[str, ...]] = {
    "name": ("name",),
    "owner": ("owner__first_name", "owner__last_name", "owner__email"),
    "stage": ("phase__position",),
    "mrr": ("active_mrr",),
    "renewal": ("next_renewal_on",),
    "last_contact": ("last_contact_at",),
}
NOT_NULL_SORT_COLUMNS = {"name", "active_mrr"}
DEFAULT_SORT = "name"
OWNER_ME = "me"
OWNER_NONE = "none"


@dataclass(frozen=True)
class CustomerFilters:
    phase_id: int | None = None
    owner: str = ""  # "", OWNER_ME, OWNER_NONE or a user id
    tag_id: int | None = None
    profile_id: int | None = None
    at_risk: bool = False
    show_churned: bool = False


def sort_key(sort: str) -> str:
    """The sort the list really applies: an unknown one falls back to the default."""
    return sort if sort.removeprefix("-") in SORTS else DEFAULT_SORT


def _ordering(sort: str) -> list[OrderBy]:
    sort = sort_key(sort)
    descending = sort.startswith("-")
    columns = SORTS[sort.removeprefix("-")]
    ordering = []
    for column in columns:
        # NULLS LAST only where a column can be NULL: on a NOT NULL column it would stop PostgreSQL from
        # reading the (workspace, column) index backwards for a descending sort.
        nulls_last = None if column in NOT_NULL_SORT_COLUMNS else True
        ordering.append(
            F(column).desc(nulls_last=nulls_last) if descending else F(column).asc(nulls_last=nulls_last)
        )
    if "name" not in columns:
        ordering.append(F("name").asc())
    ordering.append(F("id").desc() if descending else F("id").asc())
    return ordering


def customer_search(queryset: QuerySet[Customer], search: str) -> QuerySet[Customer]:
    """Name or domain containing the text, or the exact Customer ID."""
    search = search.strip()
    if not search:
        return queryset
    return queryset.filter(Q(name__icontains=search) | Q(domain__icontains=search) | Q(ref_id__iexact=search))


def customer_list(
    *,
    membership: Membership | None,
    search: str = "",
    filters: CustomerFilters | None = None,
    sort: str = DEFAULT_SORT,
) -> QuerySet[Customer]:
    """The customer list: one query for the rows (owner and stage joined), one for their tags, whatever
    the number of customers. Only indexed, denormalised columns are sorted on: no per-row subquery."""
    filters = filters or CustomerFilters()
    customers = customer_search(visible(membership, Customer), search)
    if filters.phase_id is not None:
        # Choosing a stage shows it, Churn included; otherwise churned customers stay out of the way.
        customers = customers.filter(phase_id=filters.phase_id)
    elif not filters.show_churned:
        customers = customers.exclude(phase__technical_name=CHURN_PHASE)
    if filters.owner == OWNER_ME and membership is not None:
        customers = customers.filter(owner_id=membership.user_id)
    elif filters.owner == OWNER_NONE:
        customers = customers.filter(owner__isnull=True)
    elif filters.owner.isdigit():
        customers = customers.filter(owner_id=int(filters.owner))
    if filters.tag_id is not None:
        customers = customers.filter(tags__id=filters.tag_id)
    if filters.profile_id is not None:
        customers = customers.filter(health_profile_id=filters.profile_id)
    if filters.at_risk:
        customers = customers.filter(health_score__lte=AT_RISK_SCORE)
    return (
        customers.select_related("owner", "phase", "health_profile")
        .prefetch_related("tags")
        .order_by(*_ordering(sort))
    )


def workspace_users(membership: Membership | None) -> QuerySet[Any]:
    """The users who are members of the current workspace (owners and team members are chosen here)."""
    User = get_user_model()
    if membership is None:
        return User.objects.none()
    return User.objects.filter(memberships__workspace_id=membership.workspace_id).order_by(
        "first_name", "last_name", "email"
    )


def customer_for_page(membership: Membership | None) -> QuerySet[Customer]:
    """Customers with what their header shows, for the detail page and the quick preview."""
    return visible(membership, Customer).select_related("owner", "phase", "health_profile", "parent")


def customer_sources(customer: Customer) -> QuerySet[CustomerSource]:
    return customer.sources.all()


def customer_contacts(customer: Customer) -> QuerySet[Contact]:
    return customer.contacts.all()


def customer_agreements(customer: Customer) -> QuerySet[Agreement]:
    return customer.agreements.all()


def customer_skipped_agreements(customer: Customer) -> QuerySet[SkippedAgreement]:
    return customer.skipped_agreements.all()


def customer_interactions(customer: Customer) -> QuerySet[Interaction]:
    return customer.interactions.select_related("author")


def customer_children(customer: Customer) -> QuerySet[Customer]:
    return customer.children.select_related("phase").order_by("name", "id")


def customer_history(customer: Customer) -> QuerySet[ChangeLog]:
    return customer.changes.select_related("actor_user")


def custom_fields(membership: Membership | None, target: str) -> QuerySet[CustomField]:
    return visible(membership, CustomField).filter(target=target).order_by("label", "id")


def group_parents(membership: Membership | None, *, limit: int = 200) -> QuerySet[Customer]:
    """Customers that already head a group: suggested when choosing a parent account."""
    return (
        visible(membership, Customer)
        .filter(parent__isnull=True, children__isnull=False)
        .distinct()
        .order_by("name")[:limit]
    )


def parent_candidates(
    membership: Membership | None, *, exclude: Customer | None = None
) -> QuerySet[Customer]:
    """Customers that may be a parent: top-level ones (groups have two levels), never the customer itself."""
    candidates = visible(membership, Customer).filter(parent__isnull=True)
    if exclude is not None and exclude.pk:
        candidates = candidates.exclude(pk=exclude.pk)
    return candidates


PROVENANCE_FIELDS = ("name", "domain", "ref_id", "owner", "phase", "health_profile", "tags", "csm_pulse")


def customer_provenance(customer: Customer) -> dict[str, Any]:
    """Where each tracked value last came from (a user, a playbook run, a sync run and its connection) and
    when, plus the two-way conflicts the syncs settled. Two queries."""
    latest: dict[str, ChangeLog] = {}
    fields = [*PROVENANCE_FIELDS]
    rows = (
        ChangeLog.objects.filter(customer=customer, object_type="customer")
        .filter(Q(field__in=fields) | Q(field__startswith="custom:") | Q(field="created"))
        .select_related("actor_user")
        .order_by("-created_at", "-id")
    )
    for row in rows[:500]:
        latest.setdefault(row.field, row)
    conflicts = list(
        ChangeLog.objects.filter(customer=customer, field__endswith="(conflict)").order_by("-created_at")[:20]
    )
    return {"latest": [latest[key] for key in sorted(latest) if key != "created"], "created": latest.get("created"),
            "conflicts": conflicts}  # fmt: skip
