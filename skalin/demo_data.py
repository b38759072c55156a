"""A believable demo workspace, built the same way every time (`random.Random(seed)`).

Rows go through the domain services (customers, contacts, agreements, interactions), so the
denormalised customer columns (active MRR, next renewal, last contact) come out exactly as the app
computes them. Only what has no service yet is written directly: the health score (computed by the
health-score module), the CRM source rows and the skipped contracts (both written by a sync).
The word lists are shared with the benchmark (`bench/customer_list.py`)."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from agreements.models import AgreementStatus, AmountPeriod, Interval, SkippedAgreement
from agreements.services import agreement_create
from customers.changes import Actor
from customers.models import (
    CHURN_PHASE,
    Contact,
    Customer,
    CustomerSource,
    HealthProfile,
    Phase,
    RoleTag,
    Tag,
)
from customers.services import (
    contact_create,
    customer_create,
    customer_set_pulse,
    health_profile_get_or_create,
    tags_get_or_create,
)
from interactions.models import Direction, InteractionKind
from interactions.services import interaction_create
from workspaces.models import Role, Workspace
from workspaces.services import membership_invite, user_get_or_create, workspace_create

DEMO_PASSWORD = "skalin-demo"
DEMO_SLUG = "demo-saas"
OTHER_SLUG = "other-corp"
DEMO_CUSTOMERS = 200

ROOTS = [
    "Northwind", "Bluepeak", "Lumen", "Vertex", "Orbit", "Kestrel", "Solstice", "Quartz", "Harbor",
    "Maple", "Cobalt", "Tandem", "Beacon", "Summit", "Pioneer", "Nimbus", "Atlas", "Sequoia", "Helix",
    "Zephyr", "Ember", "Granite", "Juniper", "Meridian", "Nova", "Onyx", "Polaris", "Redwood", "Sable",
    "Tidal", "Vantage", "Willow", "Alpine", "Brightwave", "Clearpath", "Driftwood", "Evergreen",
    "Foxglove", "Greenfield", "Ironbark", "Lighthouse", "Mosaic", "Oakridge", "Pinnacle", "Riverstone",
    "Silverline", "Starling", "Terracotta", "Upland", "Wildflower",
]  # fmt: skip
SECTORS = [
    "Analytics", "Logistics", "Health", "Foods", "Robotics", "Energy", "Labs", "Media", "Retail",
    "Software", "Systems", "Studio", "Consulting", "Finance", "Travel", "Security", "Biotech",
    "Mobility", "Learning", "Networks", "Insurance", "Legal", "Construction", "Hospitality", "Telecom",
]  # fmt: skip
# Qualifier -> top-level domain. Demo names use the first few; the benchmark walks them all.
QUALIFIERS = [
    ("", "io"), ("SAS", "fr"), ("GmbH", "de"), ("Ltd", "co.uk"), ("Inc.", "com"), ("BV", "nl"),
    ("France", "fr"), ("Deutschland", "de"), ("UK", "co.uk"), ("Iberia", "es"), ("Italia", "it"),
    ("Nordics", "se"), ("Benelux", "be"), ("Polska", "pl"), ("Suisse", "ch"), ("Austria", "at"),
    ("Ireland", "ie"), ("Canada", "ca"), ("USA", "us"), ("Brasil", "com.br"), ("Mexico", "mx"),
    ("Japan", "jp"), ("India", "in"), ("Australia", "com.au"), ("Africa", "africa"), ("Partners", "com"),
    ("Holding", "com"), ("Digital", "com"), ("Cloud", "cloud"), ("Direct", "com"), ("Pro", "pro"),
    ("One", "one"), ("Works", "works"), ("Hub", "com"), ("Connect", "com"), ("Solutions", "com"),
    ("Services", "com"), ("Technologies", "tech"), ("International", "com"), ("Global", "com"),
    ("Europe", "eu"), ("Lyon", "fr"), ("Lille", "fr"), ("Nantes", "fr"), ("Bordeaux", "fr"),
    ("Berlin", "de"), ("Munich", "de"), ("Hamburg", "de"),
]  # fmt: skip
GROUP_REGIONS = [("France", "fr"), ("Deutschland", "de"), ("UK", "co.uk"), ("Iberia", "es")]
NAME_SPACE = len(ROOTS) * len(SECTORS) * len(QUALIFIERS)

FIRST_NAMES = [
    "Emma", "Lucas", "Chloé", "Hugo", "Léa", "Louis", "Manon", "Jules", "Sarah", "Nathan", "Anna",
    "Tom", "Inès", "Paul", "Julia", "Noah", "Clara", "Felix", "Sofia", "Oliver", "Mia", "Liam",
    "Amelia", "Jonas", "Elena", "Marco", "Lena", "David", "Nora", "Samuel", "Aisha", "Ravi",
]  # fmt: skip
LAST_NAMES = [
    "Martin", "Bernard", "Dubois", "Moreau", "Laurent", "Lefebvre", "Müller", "Schmidt", "Fischer",
    "Weber", "Smith", "Johnson", "Brown", "Taylor", "Wilson", "Rossi", "Romano", "García",
    "Fernández", "López", "Jansen", "de Vries", "Nowak", "Kowalski", "Andersson", "Nielsen", "Silva",
    "Costa", "O'Brien", "Murphy", "Patel", "Tanaka",
]  # fmt: skip
TITLES = [
    "CEO", "COO", "CFO", "CTO", "Head of Operations", "Head of Customer Service", "IT Manager",
    "Product Owner", "Office Manager", "Sales Director", "Project Manager", "Operations Analyst",
    "Support Lead", "Marketing Manager", "Procurement Officer",
]  # fmt: skip
TAG_NAMES = [
    "Key account", "Upsell potential", "Referenceable", "Beta tester", "Needs training", "Multi-site",
    "Partner", "Renewal risk",
]  # fmt: skip
PLANS_SMB = ["Starter", "Growth", "Business"]
PLANS_ENTERPRISE = ["Business", "Enterprise", "Enterprise Plus"]
ADD_ONS = ["Add-on: SSO", "Add-on: Extra seats", "Premium support", "Add-on: API access"]
SUBJECTS: dict[str, list[str]] = {
    InteractionKind.EMAIL: [
        "Question about our invoice", "Re: Renewal proposal", "Feature request: SSO", "Onboarding next steps",
        "Re: Training materials", "Access for a new team member", "Re: Quarterly review agenda",
        "Data export question", "Re: Pricing for extra seats", "Thanks for the session",
    ],
    InteractionKind.MEETING: [
        "Quarterly business review", "Onboarding kickoff", "Training session", "Renewal discussion",
        "Roadmap presentation", "Executive sponsor check-in",
    ],
    InteractionKind.CALL: [
        "Follow-up call", "Support escalation call", "Check-in call", "Call about the new workflow",
    ],
    InteractionKind.NOTE: [
        "Champion is changing jobs", "Budget freeze until Q3", "Very happy with the reporting module",
        "Asked for a reference call", "Low usage on the mobile app",
    ],
}  # fmt: skip
PULSE_NOTES = {
    1: "Unhappy: escalations every week, sponsor talks about alternatives.",
    2: "Adoption is stalling; the new team lead has not been trained.",
    3: "Steady but quiet; no QBR since the renewal.",
    4: "Good QBR, they plan to roll out to a second team.",
    5: "Great relationship, happy to be a reference.",
}


@dataclass(frozen=True)
class DemoLogin:
    workspace: str
    role: str
    email: str
    password: str


@dataclass(frozen=True)
class DemoUser:
    workspace_slug: str
    role: str
    email: str
    first_name: str
    last_name: str


DEMO_USERS = [
    DemoUser(DEMO_SLUG, Role.ADMIN, "admin@demo-saas.test", "Alice", "Moreau"),
    DemoUser(DEMO_SLUG, Role.MANAGER, "manager@demo-saas.test", "Marc", "Lefebvre"),
    DemoUser(DEMO_SLUG, Role.CSM, "camille@demo-saas.test", "Camille", "Durand"),
    DemoUser(DEMO_SLUG, Role.CSM, "sam@demo-saas.test", "Sam", "Okafor"),
    DemoUser(OTHER_SLUG, Role.ADMIN, "admin@other-corp.test", "Olga", "Berg"),
]
WORKSPACE_NAMES = {DEMO_SLUG: "Demo SaaS", OTHER_SLUG: "Other Corp"}


def demo_logins() -> list[DemoLogin]:
    return [
        DemoLogin(WORKSPACE_NAMES[user.workspace_slug], Role(user.role).label, user.email, DEMO_PASSWORD)
        for user in DEMO_USERS
    ]


@dataclass
class DemoSeed:
    created: bool
    logins: list[DemoLogin]
    customers: int = 0


def company_name(index: int) -> tuple[str, str]:
    """The index-th name of the name space, with its domain: every index gives a distinct pair."""
    pair, qualifier_index = divmod(index, len(QUALIFIERS))
    root = ROOTS[pair % len(ROOTS)]
    sector = SECTORS[(pair // len(ROOTS)) % len(SECTORS)]
    qualifier, tld = QUALIFIERS[qualifier_index]
    name = f"{root} {sector} {qualifier}".strip()
    slug = "-".join(part.lower().rstrip(".") for part in (root, sector) if part)
    if qualifier_index >= 6:  # regions and brands get their own sub-brand domain
        slug += "-" + qualifier.lower()
    return name, f"{slug}.{tld}"


def email_local_part(first: str, last: str) -> str:
    plain = f"{first}.{last}".lower().replace(" ", "").replace("'", "")
    table = str.maketrans("éèüöäáíñó", "eeuoaaino")
    return plain.translate(table)


def contact_people(rng: random.Random, count: int) -> list[tuple[str, str]]:
    return rng.sample([(first, last) for first in FIRST_NAMES for last in LAST_NAMES], count)


# ---- the plan: what each customer will be, decided before anything is written ------------------------


@dataclass
class CustomerPlan:
    name: str
    domain: str
    phase: str
    enterprise: bool
    owner_index: int | None  # index into the CSMs, None = unowned
    parent_of: list[int] = field(default_factory=list)
    parent_index: int | None = None
    expired: bool = False
    cancelled_add_on: bool = False


def _phase_list(rng: random.Random, count: int) -> list[str]:
    churn = max(1, round(count * 0.08))
    trial = max(1, round(count * 0.12))
    onboarding = max(1, round(count * 0.2))
    phases = ["churn"] * churn + ["trial"] * trial + ["onboarding"] * onboarding
    phases += ["run"] * (count - len(phases))
    rng.shuffle(phases)
    return phases


def plan_customers(rng: random.Random, count: int) -> list[CustomerPlan]:
    """`count` customers: a few parent/child groups (two levels), the rest on their own."""
    group_count = max(1, count // 40)
    group_sizes = [rng.randint(2, 4) for _ in range(group_count)]
    while group_count and sum(size + 1 for size in group_sizes) > count // 2:
        group_sizes.pop()
        group_count -= 1
    pairs = rng.sample(range(len(ROOTS) * len(SECTORS)), count)
    plans: list[CustomerPlan] = []
    for size in group_sizes:
        pair = pairs.pop()
        base, _ = company_name(pair * len(QUALIFIERS))
        slug = base.lower().replace(" ", "-")
        parent_index = len(plans)
        owner = rng.randrange(2)
        plans.append(CustomerPlan(f"{base} Group", f"{slug}.com", "run", True, owner))
        for region, tld in GROUP_REGIONS[:size]:
            plans[parent_index].parent_of.append(len(plans))
            plans.append(
                CustomerPlan(
                    f"{base} {region}", f"{slug}.{tld}", "run", True, owner, parent_index=parent_index
                )
            )
    for pair, phase in zip(pairs, _phase_list(rng, count - len(plans)), strict=False):
        name, domain = company_name(pair * len(QUALIFIERS) + rng.randrange(6))
        owner_index = None if rng.random() < 0.1 else rng.randrange(2)
        plan = CustomerPlan(name, domain, phase, rng.random() < 0.25, owner_index)
        plan.expired = phase == "run" and rng.random() < 0.12
        plans.append(plan)
    # Showcases that must exist whatever the count or the dice: an expired contract, a cancelled one.
    runs = [
        plan for plan in plans if plan.phase == "run" and plan.parent_index is None and not plan.parent_of
    ]
    if runs and not any(plan.expired for plan in plans):
        runs[0].expired = True
    cancellable = [plan for plan in runs if not plan.expired]
    if cancellable:
        cancellable[-1].cancelled_add_on = True
    return plans


def _amount(rng: random.Random, enterprise: bool) -> tuple[Decimal, str]:
    monthly = rng.randrange(1500, 12000, 50) if enterprise else rng.randrange(49, 990, 10)
    if rng.random() < 0.4:
        return Decimal(monthly * 12), AmountPeriod.ARR
    return Decimal(monthly), AmountPeriod.MRR


def _notice(rng: random.Random, ends_on: dt.date) -> dict[str, Any]:
    """Tacit renewal with a notice (value + interval, or a date), or no tacit renewal."""
    roll = rng.random()
    if roll < 0.45:
        return {"tacit_renewal": True, "notice_value": rng.choice([1, 2, 3]), "notice_unit": Interval.MONTH}
    if roll < 0.55:
        return {"tacit_renewal": True, "notice_date": ends_on - dt.timedelta(days=rng.choice([30, 45, 60]))}
    return {"tacit_renewal": False}


def plan_agreements(rng: random.Random, plan: CustomerPlan, today: dt.date) -> list[dict[str, Any]]:
    """0-3 contracts whose dates fit the customer's phase."""
    plans = PLANS_ENTERPRISE if plan.enterprise else PLANS_SMB
    rows: list[dict[str, Any]] = []

    def main(start: dt.date, years: int, *, renews: bool = True) -> dict[str, Any]:
        amount, period = _amount(rng, plan.enterprise)
        row: dict[str, Any] = {
            "plan_name": rng.choice(plans),
            "amount": amount,
            "amount_period": period,
            "start_date": start,
        }
        ends_on = dt.date(start.year + years, start.month, min(start.day, 28))
        if rng.random() < 0.5:
            row.update(duration_value=years * 12, duration_unit=Interval.MONTH)
        else:
            row["end_date"] = ends_on
        if rng.random() < 0.3:
            row["one_time_fee"] = Decimal(rng.choice([500, 1000, 2500, 5000]))
        row.update(_notice(rng, ends_on) if renews else {"tacit_renewal": False})
        return row

    if plan.phase == "trial":
        if rng.random() < 0.3:  # signed, starts after the trial
            rows.append(main(today + dt.timedelta(days=rng.randint(5, 40)), 1))
    elif plan.phase == "onboarding":
        rows.append(main(today - dt.timedelta(days=rng.randint(5, 120)), 1))
    elif plan.phase == CHURN_PHASE:
        rows.append(main(today - dt.timedelta(days=rng.randint(400, 700)), 1, renews=False))
    elif plan.expired:
        ended = today - dt.timedelta(days=rng.randint(1, 90))
        rows.append(main(dt.date(ended.year - 1, ended.month, min(ended.day, 28)), 1))
    else:
        years = rng.choice([1, 1, 2, 3])
        rows.append(main(today - dt.timedelta(days=rng.randint(20, 365 * years - 20)), years))
        if rng.random() < 0.35 or plan.cancelled_add_on:
            amount, period = _amount(rng, False)
            start = today - dt.timedelta(days=rng.randint(0, 500))
            add_on: dict[str, Any] = {
                "plan_name": rng.choice(ADD_ONS),
                "amount": amount,
                "amount_period": period,
                "start_date": start,
                "duration_value": 12,
                "duration_unit": Interval.MONTH,
                "tacit_renewal": False,
            }
            if plan.cancelled_add_on:
                add_on["status"] = AgreementStatus.CANCELLED
            rows.append(add_on)
        if rng.random() < 0.2:  # the contract before the current one
            start = rows[0]["start_date"]
            previous = main(dt.date(start.year - 1, start.month, min(start.day, 28)), 1, renews=False)
            previous.pop("duration_value", None)
            previous.pop("duration_unit", None)
            previous["end_date"] = start
            rows.append(previous)
    return rows


def plan_interactions(
    rng: random.Random, plan: CustomerPlan, now: dt.datetime
) -> list[tuple[str, str, dt.datetime, bool, bool]]:
    """(kind, direction, when, customer_replied, attended) over the last 12 months."""
    count, newest, oldest = {
        "trial": (rng.randint(1, 4), 0, 45),
        "onboarding": (rng.randint(3, 10), 0, 150),
        CHURN_PHASE: (rng.randint(1, 5), 60, 365),
        "run": (rng.randint(2, 14), 0, 365),
    }[plan.phase]
    rows: list[tuple[str, str, dt.datetime, bool, bool]] = []
    for _ in range(count):
        when = now - dt.timedelta(minutes=rng.randint(newest * 1440 + 60, oldest * 1440))
        kind = rng.choices(list(SUBJECTS), weights=[50, 20, 15, 15])[0]
        direction = ""  # meetings and notes have none
        if kind in (InteractionKind.EMAIL, InteractionKind.CALL):
            direction = rng.choice([Direction.INCOMING, Direction.OUTGOING])
        replied = kind == InteractionKind.EMAIL and direction == Direction.OUTGOING and rng.random() < 0.4
        attended = kind != InteractionKind.MEETING or rng.random() < 0.85
        rows.append((kind, direction, when, replied, attended))
    return rows


# ---- writing it ---------------------------------------------------------------------------------------


def _users(slug: str) -> dict[str, list[Any]]:
    """Create the workspace's users and memberships; returns users per role."""
    workspace = Workspace.objects.get(slug=slug)
    by_role: dict[str, list[Any]] = {}
    for spec in DEMO_USERS:
        if spec.workspace_slug != slug:
            continue
        user = user_get_or_create(
            email=spec.email, first_name=spec.first_name, last_name=spec.last_name, password=DEMO_PASSWORD
        )
        membership_invite(workspace=workspace, email=spec.email, role=spec.role)
        by_role.setdefault(spec.role, []).append(user)
    return by_role


def seed_demo(*, customers: int = DEMO_CUSTOMERS, seed: int = 7, now: dt.datetime | None = None) -> DemoSeed:
    """Create the demo workspaces unless the demo workspace already exists."""
    if Workspace.objects.filter(slug=DEMO_SLUG).exists():
        return DemoSeed(created=False, logins=demo_logins())
    if customers < 10:
        raise ValueError("The demo needs at least 10 customers to show every case.")
    now = now or timezone.now()
    with transaction.atomic():
        count = _seed_workspace(random.Random(seed), customers=customers, now=now)
        _seed_other_corp(random.Random(seed + 1), now=now)
        _seed_playbooks(Workspace.objects.get(slug=DEMO_SLUG), now=now)
        _seed_health(Workspace.objects.get(slug=DEMO_SLUG), random.Random(seed + 2), now=now)
    _fill_search_and_reports(now=now)
    return DemoSeed(created=True, logins=demo_logins(), customers=count)


def _seed_playbooks(workspace: Workspace, *, now: dt.datetime) -> None:
    """Three playbooks a CS team would start with, enabled, so the demo shows playbooks and tasks."""
    from playbooks.models import ActionKind, ConditionKind, Trigger
    from playbooks.services import ActionSpec, ConditionSpec, playbook_save, playbook_set_enabled

    admin = workspace.memberships.filter(role="admin").select_related("user").first()
    user = admin.user if admin else None
    churn = workspace.phases.filter(technical_name="churn").first()
    not_churned = [ConditionSpec(kind=ConditionKind.STAGE_IS_NOT, phase=churn)] if churn else []
    recipes = [
        ("Escalate", "Flag a customer in trouble and get its owner on the phone.", Trigger.MANUAL, None, [], [
            ActionSpec(kind=ActionKind.ADD_TAG, new_tag_name="Escalated"),
            ActionSpec(kind=ActionKind.CREATE_TASK, assign_to_owner=True,
                       task_title="Call the sponsor about the escalation", due_in_days=2),
        ]),
        ("Onboarding welcome", "Every new customer gets a welcome call.", Trigger.CUSTOMER_CREATED, None,
         not_churned, [ActionSpec(kind=ActionKind.CREATE_TASK, assign_to_owner=True,
                                  task_title="Welcome call and onboarding plan", due_in_days=3)]),
        ("Renewal in 60 days", "Prepare renewals two months ahead.", Trigger.RENEWAL_IN, 60, not_churned, [
            ActionSpec(kind=ActionKind.ADD_TAG, new_tag_name="Renewal"),
            ActionSpec(kind=ActionKind.CREATE_TASK, assign_to_owner=True,
                       task_title="Prepare the renewal proposal", due_in_days=7),
        ]),
    ]  # fmt: skip
    for name, description, trigger, days, conditions, actions in recipes:
        saved = playbook_save(
            workspace=workspace, user=user, name=name, description=description, trigger=trigger,
            trigger_days=days, conditions=conditions, actions=actions,
        )  # fmt: skip
        playbook_set_enabled(playbook=saved.playbook, enabled=True, now=now)


def _seed_health(workspace: Workspace, rng: random.Random, *, now: dt.datetime) -> None:
    """Weights per profile, two months of product usage, and last week's and this week's scores, so the
    customer page shows a chart, the ledger and what moved."""
    from healthscore.models import UsageDaily
    from healthscore.services import health_compute, usage_credential_create, weights_set

    weights = {
        "Enterprise": {"usage": 20, "interactions": 30, "pulse": 30, "agreement": 20},
        "SMB": {"usage": 40, "interactions": 20, "pulse": 20, "agreement": 20},
    }
    for profile in workspace.profiles.all():
        if profile.name in weights:
            weights_set(workspace_id=workspace.pk, profile=profile, values=weights[profile.name])
    admin = workspace.memberships.filter(role="admin").select_related("user").first()
    usage_credential_create(
        workspace_id=workspace.pk, name="Product analytics (demo)", user=admin.user if admin else None
    )
    today = timezone.localdate(now)
    rows = []
    for customer_id in workspace.customers.exclude(phase__technical_name="churn").values_list(
        "pk", flat=True
    ):
        level = rng.choice([0, 0, 2, 5, 12, 30])  # some customers never use the product
        if not level:
            continue
        for back in range(60):
            if rng.random() < 0.7:
                events = max(0, int(rng.gauss(level, level / 3)))
                rows.append(UsageDaily(workspace=workspace, customer_id=customer_id, day=today - dt.timedelta(days=back),
                                       events=events, users=max(1, events // 4)))  # fmt: skip
    UsageDaily.objects.bulk_create(rows, batch_size=2000)
    health_compute(workspace_id=workspace.pk, as_of=now - dt.timedelta(days=7))
    health_compute(workspace_id=workspace.pk, as_of=now)


def _fill_search_and_reports(*, now: dt.datetime) -> None:
    """The header search and the Reports page show something from the first login, not after a beat tick."""
    from reports.services import report_snapshot_compute
    from search.services import search_index_pass

    search_index_pass(full=True, now=now)
    for workspace_id in Workspace.objects.filter(slug__in=[DEMO_SLUG, OTHER_SLUG]).values_list(
        "pk", flat=True
    ):
        report_snapshot_compute(workspace_id=workspace_id, now=now)


@dataclass
class _Demo:
    """What every customer of the demo workspace is built with."""

    rng: random.Random
    workspace: Workspace
    phases: dict[str, Phase]
    profiles: dict[str, HealthProfile]
    tags: list[Tag]
    csms: list[Any]
    managers: list[Any]
    actor: Actor
    now: dt.datetime

    @property
    def today(self) -> dt.date:
        return timezone.localdate(self.now)


def _seed_workspace(rng: random.Random, *, customers: int, now: dt.datetime) -> int:
    workspace = workspace_create(
        name=WORKSPACE_NAMES[DEMO_SLUG], currency="EUR", email_domains=["demo-saas.test"], slug=DEMO_SLUG
    )
    users = _users(DEMO_SLUG)
    demo = _Demo(
        rng=rng,
        workspace=workspace,
        phases={phase.technical_name: phase for phase in Phase.objects.filter(workspace=workspace)},
        profiles={
            "smb": health_profile_get_or_create(workspace=workspace, name="SMB"),
            "enterprise": health_profile_get_or_create(workspace=workspace, name="Enterprise"),
        },
        tags=tags_get_or_create(workspace=workspace, names=TAG_NAMES),
        csms=users[Role.CSM],
        managers=users[Role.MANAGER],
        actor=Actor.system("Demo data"),
        now=now,
    )
    created: list[Customer] = []
    for index, plan in enumerate(plan_customers(rng, customers)):
        parent = created[plan.parent_index] if plan.parent_index is not None else None
        created.append(_create_customer(demo, plan, ref_id=f"CUS-{index + 1:05d}", parent=parent))
    _attach_sources(rng, created, workspace, now)
    return len(created)


def _role_tags(rng: random.Random, position: int, contact_count: int) -> list[str]:
    """The first contact sponsors the deal (or champions it when alone), the second champions it."""
    if position == 0:
        return [RoleTag.SPONSOR] if contact_count > 1 else [RoleTag.CHAMPION]
    if position == 1:
        return [RoleTag.CHAMPION]
    return rng.choice([[RoleTag.KEY_USER], [RoleTag.END_USER], []])


def _create_customer(demo: _Demo, plan: CustomerPlan, *, ref_id: str, parent: Customer | None) -> Customer:
    rng, actor = demo.rng, demo.actor
    owner = demo.csms[plan.owner_index] if plan.owner_index is not None else None
    customer = customer_create(
        workspace=demo.workspace,
        actor=actor,
        name=plan.name,
        domain=plan.domain,
        ref_id=ref_id,
        owner=owner,
        phase=demo.phases[plan.phase],
        health_profile=demo.profiles["enterprise" if plan.enterprise else "smb"],
        parent=parent,
        tags=rng.sample(demo.tags, rng.choice([0, 1, 1, 2, 3])),
        team_members=demo.managers if plan.enterprise and rng.random() < 0.3 else [],
    )
    people = contact_people(rng, rng.randint(1, 5))
    contacts = []
    for position, (first, last) in enumerate(people):
        phone = ""
        if rng.random() < 0.6:
            phone = "+33 6 " + " ".join(str(rng.randint(10, 99)) for _ in range(4))
        contacts.append(
            contact_create(
                customer=customer,
                actor=actor,
                first_name=first,
                last_name=last,
                email=f"{email_local_part(first, last)}@{plan.domain}",
                phone=phone,
                title=rng.choice(TITLES),
                ref_id=f"{ref_id.replace('CUS', 'CON')}-{position + 1}",
                role_tags=_role_tags(rng, position, len(people)),
            )
        )
    for fields in plan_agreements(rng, plan, demo.today):
        agreement_create(customer=customer, actor=actor, today=demo.today, **fields)
    author = owner or rng.choice(demo.csms)
    for kind, direction, when, replied, attended in plan_interactions(rng, plan, demo.now):
        contact = rng.choice(contacts)
        incoming = direction == Direction.INCOMING
        interaction_create(
            customer=customer,
            actor=actor,
            contacts=[] if kind == InteractionKind.NOTE else [contact],
            kind=kind,
            direction=direction,
            customer_replied=replied,
            attended=attended,
            occurred_at=when,
            subject=rng.choice(SUBJECTS[kind]),
            body=_body(kind, incoming, contact),
            author=None if incoming else author,
            author_name=contact.full_name if incoming else author.get_full_name(),
        )
    if plan.phase != CHURN_PHASE and rng.random() < 0.45:
        pulse = rng.choices([1, 2, 3, 4, 5], weights=[1, 2, 4, 5, 3])[0]
        customer_set_pulse(
            customer=customer, actor=Actor.for_user(author), pulse=pulse, note=PULSE_NOTES[pulse]
        )
    score = _health_score(rng, plan)
    if score is not None:
        # The health-score module computes this weekly; the demo shows a plausible last result.
        Customer.objects.filter(pk=customer.pk).update(health_score=score)
        customer.health_score = score
    return customer


def _body(kind: str, incoming: bool, contact: Contact) -> str:
    if kind == InteractionKind.NOTE:
        return "Internal note after the last exchange with the account."
    return f"{'From' if incoming else 'With'} {contact.full_name} ({contact.title})."


def _health_score(rng: random.Random, plan: CustomerPlan) -> int | None:
    if plan.phase == CHURN_PHASE:
        return rng.randint(1, 3)
    if plan.phase == "trial" or rng.random() < 0.12:
        return None  # not computed yet
    return rng.choices(range(1, 11), weights=[2, 3, 4, 5, 7, 9, 10, 9, 6, 4])[0]


def _attach_sources(
    rng: random.Random, customers: list[Customer], workspace: Workspace, now: dt.datetime
) -> None:
    """What a HubSpot and a Salesforce sync would have left: external ids, sync times, skipped contracts."""
    synced = rng.sample(customers, min(len(customers), max(4, len(customers) // 12)))
    rows = []
    for position, customer in enumerate(synced):
        when = now - dt.timedelta(minutes=rng.randint(5, 55))
        if position % 3 != 2:
            rows.append(
                CustomerSource(
                    customer=customer,
                    source="hubspot",
                    external_id=str(9_100_000 + customer.pk * 37),
                    last_synced_at=when,
                )
            )
        if position % 3 != 0:
            rows.append(
                CustomerSource(
                    customer=customer,
                    source="salesforce",
                    external_id=f"001Dn00000{customer.pk:08d}",
                    last_synced_at=when,
                )
            )
    CustomerSource.objects.bulk_create(rows)
    for position, (label, missing) in enumerate(
        [("Premium plan renewal", ["start date"]), ("Extra seats (Q3)", ["amount", "end date or duration"])]
    ):
        customer = synced[position]
        SkippedAgreement.objects.create(
            workspace=workspace,
            customer=customer,
            source="hubspot",
            external_id=f"deal-{8_800_000 + customer.pk * 11 + position}",
            label=label,
            missing_fields=missing,
        )


def _seed_other_corp(rng: random.Random, *, now: dt.datetime) -> None:
    """A second company in the same database: nobody from Demo SaaS ever sees these rows."""
    workspace = workspace_create(
        name=WORKSPACE_NAMES[OTHER_SLUG], currency="USD", email_domains=["other-corp.test"], slug=OTHER_SLUG
    )
    admin = _users(OTHER_SLUG)[Role.ADMIN][0]
    actor = Actor.for_user(admin)
    today = timezone.localdate(now)
    for index in range(6):
        name, domain = company_name(rng.randrange(NAME_SPACE))
        customer = customer_create(
            workspace=workspace,
            actor=actor,
            name=name,
            domain=domain,
            ref_id=f"OC-{index + 1:03d}",
            owner=admin,
        )
        first, last = contact_people(rng, 1)[0]
        contact_create(
            customer=customer,
            actor=actor,
            first_name=first,
            last_name=last,
            email=f"{email_local_part(first, last)}@{domain}",
            role_tags=[RoleTag.CHAMPION],
        )
        amount, period = _amount(rng, False)
        agreement_create(
            customer=customer,
            actor=actor,
            today=today,
            plan_name="Standard",
            amount=amount,
            amount_period=period,
            start_date=today - dt.timedelta(days=rng.randint(10, 300)),
            duration_value=1,
            duration_unit=Interval.YEAR,
        )
