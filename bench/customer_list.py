"""How fast the customer list and the customer page answer with 50,000 customers, and whether their number
of SQL queries stays flat as the data grows.

    .venv/bin/python bench/customer_list.py                    # a temporary SQLite file
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/skalin_bench .venv/bin/python bench/customer_list.py

See bench/README.md. Prints figures; asserts nothing about time."""

from __future__ import annotations

import argparse
import atexit
import math
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "skalin.settings")

BATCH = 2000  # customers per bulk batch
SEARCH_TERM = "nova"  # one root in 50 of the generated names: about 2% of the customers
LATE_PAGE = 200


def prepare_database(reseed: bool) -> str:
    """Point Django at the benchmark database (created if missing); returns a label for the report."""
    url = os.environ.get("DATABASE_URL", "")
    if not url:
        folder = tempfile.mkdtemp(prefix="skalin-bench-")
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        os.environ["DATABASE_URL"] = f"sqlite:///{folder}/bench.sqlite3"
        return "SQLite (a temporary file, removed at exit)"
    parsed = urlparse(url)
    if not parsed.scheme.startswith("postgres"):
        return f"{parsed.scheme} ({parsed.path.lstrip('/')})"
    import psycopg
    from psycopg import sql

    name = unquote(parsed.path.lstrip("/"))
    admin = psycopg.connect(
        host=parsed.hostname or "127.0.0.1",
        port=parsed.port or 5432,
        user=unquote(parsed.username or "postgres"),
        password=unquote(parsed.password or "") or None,
        dbname="postgres",
        autocommit=True,
    )
    with admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists and reseed:
            admin.execute(sql.SQL("DROP DATABASE {}").format(sql.Identifier(name)))
            exists = None
        if not exists:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        version = admin.execute("SHOW server_version").fetchone()
    return f"PostgreSQL {version[0] if version else '?'} (database {name})"


# ---- seeding ------------------------------------------------------------------------------------------


@dataclass
class Bench:
    workspace: Any
    csm: Any
    rich_customer_id: int
    seeded_in: float | None  # seconds, None when it was already there


def seed(count: int, *, seed_value: int = 1) -> Bench:
    """The `bench-<count>` workspace: customers with contacts, agreements and interactions, written with
    bulk_create; the denormalised columns are computed here the way the services compute them."""
    from django.db import connection, transaction

    from customers.models import Customer
    from workspaces.models import Workspace

    slug = f"bench-{count}"
    workspace = Workspace.objects.filter(slug=slug).first()
    if workspace is not None:
        return Bench(workspace, _csm(workspace), _rich(workspace), None)
    started = time.monotonic()
    with transaction.atomic():
        workspace = _seed_rows(slug, count, random.Random(seed_value))
    # A production database has planner statistics (autovacuum); a bulk load needs them refreshed, or the
    # planner believes the table is empty and the figures describe a setup nobody runs.
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    bench = Bench(workspace, _csm(workspace), _rich(workspace), time.monotonic() - started)
    _check_denormalised(Customer.objects.filter(workspace=workspace).order_by("?")[:200])
    return bench


def _csm(workspace: Any) -> Any:
    from workspaces.models import Membership, Role

    return Membership.objects.filter(workspace=workspace, role=Role.CSM).order_by("id").first()


def _rich(workspace: Any) -> int:
    from customers.models import Customer

    return Customer.objects.get(workspace=workspace, ref_id="B-000000").pk


def _batches(total: int, size: int) -> Iterator[range]:
    for start in range(0, total, size):
        yield range(start, min(start + size, total))


def _seed_rows(slug: str, count: int, rng: random.Random) -> Any:
    from django.utils import timezone

    from agreements.models import MANUAL_STATUSES, Agreement, AgreementStatus
    from agreements.services import agreement_end, agreement_renewal, agreement_status_for, mrr_from_amount
    from customers.models import Contact, Customer, Phase, RoleTag
    from customers.services import health_profile_get_or_create, tags_get_or_create
    from interactions.models import Direction, Interaction, InteractionKind
    from skalin import demo_data
    from workspaces.models import Membership, Role
    from workspaces.services import user_get_or_create, workspace_create

    now = timezone.now()
    today = timezone.localdate(now)
    workspace = workspace_create(name=f"Bench {count:,}", slug=slug, email_domains=[f"{slug}.test"])
    csms = []
    for n in (1, 2):
        user = user_get_or_create(email=f"csm{n}@{slug}.test", first_name="Bench", last_name=f"CSM {n}")
        Membership.objects.create(workspace=workspace, user=user, role=Role.CSM)
        csms.append(user)
    phases = {phase.technical_name: phase for phase in Phase.objects.filter(workspace=workspace)}
    profiles = [
        health_profile_get_or_create(workspace=workspace, name=name) for name in ("SMB", "Enterprise")
    ]
    tags = tags_get_or_create(workspace=workspace, names=demo_data.TAG_NAMES)
    names = rng.sample(range(demo_data.NAME_SPACE), count)
    phase_names = ["run"] * 60 + ["onboarding"] * 20 + ["trial"] * 12 + ["churn"] * 8
    TagLink = Customer.tags.through
    ContactLink = Interaction.contacts.through

    for batch in _batches(count, BATCH):
        plans, customers = [], []
        for index in batch:
            name, domain = demo_data.company_name(names[index])
            phase = "run" if index == 0 else rng.choice(phase_names)
            plan = demo_data.CustomerPlan(
                name, domain, phase, rng.random() < 0.25, rng.choice([0, 0, 1, 1, None])
            )
            plan.expired = phase == "run" and rng.random() < 0.1
            planned_agreements = demo_data.plan_agreements(rng, plan, today)
            planned_interactions = demo_data.plan_interactions(rng, plan, now)
            if index == 0:  # the customer whose page is measured: a long history
                planned_agreements += demo_data.plan_agreements(rng, plan, today)[:2]
                planned_interactions += [
                    row for _ in range(4) for row in demo_data.plan_interactions(rng, plan, now)
                ]
            contact_count = 5 if index == 0 else rng.randint(1, 4)
            plans.append((plan, planned_agreements, planned_interactions, contact_count))
            owner = csms[plan.owner_index] if plan.owner_index is not None else None
            customers.append(
                Customer(
                    workspace=workspace,
                    name=name,
                    domain=domain,
                    ref_id=f"B-{index:06d}",
                    owner=owner,
                    phase=phases[phase],
                    health_profile=profiles[plan.enterprise],
                    health_score=None if rng.random() < 0.15 else rng.randint(1, 10),
                    csm_pulse=rng.randint(1, 5) if rng.random() < 0.4 else None,
                )
            )
        Customer.objects.bulk_create(customers)

        contacts: list[Contact] = []
        agreements: list[Agreement] = []
        interactions: list[Interaction] = []
        tag_links: list[Any] = []
        interaction_contacts: list[tuple[Interaction, Contact]] = []
        for customer, (plan, agreement_rows, interaction_rows, contact_count) in zip(
            customers, plans, strict=True
        ):
            people = demo_data.contact_people(rng, contact_count)
            own_contacts = [
                Contact(
                    workspace=workspace,
                    customer=customer,
                    first_name=first,
                    last_name=last,
                    email=f"{demo_data.email_local_part(first, last)}@{plan.domain}",
                    title=rng.choice(demo_data.TITLES),
                    role_tags=[RoleTag.CHAMPION] if position == 0 else [],
                )
                for position, (first, last) in enumerate(people)
            ]
            contacts += own_contacts
            tag_links += [TagLink(customer=customer, tag=tag) for tag in rng.sample(tags, rng.randint(0, 2))]

            renewals_running, renewals_all = [], []
            for fields in agreement_rows:
                ends_on = agreement_end(
                    start_date=fields["start_date"],
                    end_date=fields.get("end_date"),
                    duration_value=fields.get("duration_value"),
                    duration_unit=fields.get("duration_unit", ""),
                )
                assert ends_on is not None
                renews_on = agreement_renewal(
                    ends_on=ends_on,
                    tacit_renewal=fields["tacit_renewal"],
                    notice_value=fields.get("notice_value"),
                    notice_unit=fields.get("notice_unit", ""),
                    notice_date=fields.get("notice_date"),
                )
                status = agreement_status_for(
                    today=today,
                    start_date=fields["start_date"],
                    ends_on=ends_on,
                    current=fields.get("status", AgreementStatus.ACTIVE),
                )
                mrr = mrr_from_amount(fields["amount"], fields["amount_period"])
                agreements.append(
                    Agreement(
                        workspace=workspace,
                        customer=customer,
                        currency=workspace.currency,
                        mrr=mrr,
                        ends_on=ends_on,
                        renews_on=renews_on,
                        **{**fields, "status": status},
                    )
                )
                # As customer_active_mrr and customer_next_renewal compute them.
                if fields["start_date"] <= today < ends_on and status not in MANUAL_STATUSES:
                    customer.active_mrr += mrr
                if status != AgreementStatus.CANCELLED:
                    renewals_all.append(renews_on)
                    if ends_on > today:
                        renewals_running.append(renews_on)
            customer.next_renewal_on = (
                min(renewals_running) if renewals_running else max(renewals_all) if renewals_all else None
            )

            for kind, direction, when, replied, attended in interaction_rows:
                interaction = Interaction(
                    workspace=workspace,
                    customer=customer,
                    kind=kind,
                    direction=direction,
                    customer_replied=replied,
                    attended=attended,
                    occurred_at=when,
                    subject=rng.choice(demo_data.SUBJECTS[kind]),
                    author=customer.owner,
                )
                interactions.append(interaction)
                if kind != InteractionKind.NOTE:
                    interaction_contacts.append((interaction, rng.choice(own_contacts)))
                # As interactions.services.counts_as_contact decides.
                counts = (
                    (kind == InteractionKind.EMAIL and (direction == Direction.INCOMING or replied))
                    or (kind == InteractionKind.MEETING and attended)
                    or kind == InteractionKind.CALL
                )
                if counts and (customer.last_contact_at is None or when > customer.last_contact_at):
                    customer.last_contact_at = when

        Contact.objects.bulk_create(contacts, batch_size=5000)
        Agreement.objects.bulk_create(agreements, batch_size=5000)
        Interaction.objects.bulk_create(interactions, batch_size=5000)
        ContactLink.objects.bulk_create(
            [ContactLink(interaction=i, contact=c) for i, c in interaction_contacts], batch_size=5000
        )
        TagLink.objects.bulk_create(tag_links, batch_size=5000)
        Customer.objects.bulk_update(
            customers, ["active_mrr", "next_renewal_on", "last_contact_at"], batch_size=1000
        )
        if sys.stdout.isatty():
            print(f"  seeded {batch.stop:,} / {count:,} customers", end="\r", flush=True)
    return workspace


def _check_denormalised(customers: Any) -> None:
    """The bulk seed must agree with the services, or the figures would be about other data."""
    from agreements.services import customer_active_mrr, customer_next_renewal
    from interactions.services import customer_last_contact

    for customer in customers:
        expected = (
            customer_active_mrr(customer=customer),
            customer_next_renewal(customer=customer),
            customer_last_contact(customer=customer),
        )
        stored = (customer.active_mrr, customer.next_renewal_on, customer.last_contact_at)
        if expected != stored:
            raise SystemExit(f"Seed bug: {customer} stores {stored}, the services compute {expected}.")


# ---- measuring ----------------------------------------------------------------------------------------


@dataclass
class Figure:
    median_ms: float
    p95_ms: float
    queries: int
    status: int
    slowest_sql: str = ""
    slowest_ms: float = 0.0


def measure(get: Callable[[], Any], requests: int, warmup: int = 3) -> Figure:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(warmup):
        get()
    with CaptureQueriesContext(connection) as captured:
        response = get()
    # Read now: the next request empties the connection's query log.
    captured_queries = list(captured.captured_queries)
    slowest = max(captured_queries, key=lambda query: float(query["time"]), default={"sql": "", "time": "0"})
    timings = []
    for _ in range(requests):
        started = time.perf_counter()
        get()
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    p95 = timings[max(0, math.ceil(0.95 * len(timings)) - 1)]
    return Figure(
        statistics.median(timings),
        p95,
        len(captured_queries),
        response.status_code,
        slowest_sql=slowest["sql"],
        slowest_ms=float(slowest["time"]) * 1000,
    )


def scenarios(bench: Bench) -> list[tuple[str, str]]:
    from django.urls import reverse

    from customers.models import Customer

    page_size = _page_size()
    listed = Customer.objects.filter(workspace=bench.workspace).not_churned().count()
    late_page = min(LATE_PAGE, max(1, math.ceil(listed / page_size)))
    url = reverse("customers:list")
    return [
        ("list, default (by name)", url),
        ("list, active MRR desc", f"{url}?sort=-mrr"),
        ("list, renewal date", f"{url}?sort=renewal"),
        (f"list, search '{SEARCH_TERM}'", f"{url}?q={SEARCH_TERM}"),
        (f"list, late page ({LATE_PAGE} or last)", f"{url}?page={late_page}"),
        ("customer page (rich customer)", reverse("customers:detail", args=[bench.rich_customer_id])),
    ]


def _page_size() -> int:
    from customers import views

    return int(getattr(views, "PAGE_SIZE", 50))


def run(bench: Bench, requests: int) -> list[tuple[str, Figure]]:
    from django.test import Client

    client = Client(SERVER_NAME="127.0.0.1")
    client.force_login(bench.csm.user)
    session = client.session
    session["workspace_id"] = bench.workspace.pk
    session.save()
    return [
        (label, measure(lambda url=url: client.get(url), requests))  # type: ignore[misc]
        for label, url in scenarios(bench)
    ]


def print_table(database: str, results: list[tuple[Bench, int, list[tuple[str, Figure]]]]) -> None:
    print(f"\nDatabase: {database}")
    print("Server time per request through Django's test client (in-process: no network, no browser).\n")
    heads = [f"{count:,} customers" for _, count, _ in results]
    print(f"{'scenario':<36}" + "".join(f"| {head:^30}" for head in heads))
    print(f"{'':<36}" + "".join(f"| {'median':>9} {'p95':>9} {'queries':>8} " for _ in heads))
    print("-" * (36 + 32 * len(heads)))
    for row, (label, _) in enumerate(results[0][2]):
        line = f"{label:<36}"
        for _, _, figures in results:
            figure = figures[row][1]
            flag = "" if figure.status == 200 else f" HTTP {figure.status}"
            line += f"| {figure.median_ms:>7.1f}ms {figure.p95_ms:>7.1f}ms {figure.queries:>8}{flag} "
        print(line)
    print(f"\nSlowest SQL query of each scenario at {results[0][1]:,} customers (one run):")
    for label, figure in results[0][2]:
        print(f"  {label:<34} {figure.slowest_ms:>7.1f}ms  {figure.slowest_sql[:150]}")
    counts = [[figure.queries for _, figure in figures] for _, _, figures in results]
    if len(counts) > 1:
        same = all(column == counts[0] for column in counts[1:])
        print(
            "\nQuery counts are the same at every size." if same else "\nQuery counts differ between sizes!"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=50_000, help="the large workspace (default 50,000)")
    parser.add_argument("--small", type=int, default=500, help="the small workspace (default 500)")
    parser.add_argument("--requests", type=int, default=20, help="timed requests per scenario (default 20)")
    parser.add_argument("--reseed", action="store_true", help="PostgreSQL: drop and recreate the database")
    args = parser.parse_args()

    database = prepare_database(args.reseed)
    import django

    # Whitenoise warns that collectstatic has not run; the bench does not serve static files.
    warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)
    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.test.utils import override_settings

    print(f"Migrating {database} ...")
    call_command("migrate", verbosity=0)
    results = []
    for count in (args.customers, args.small):
        print(f"Seeding {count:,} customers (skipped if already there) ...")
        bench = seed(count)
        if bench.seeded_in is not None:
            print(f"  seeded in {bench.seeded_in:.1f}s; denormalised columns checked against the services")
        with override_settings(
            ALLOWED_HOSTS=[*settings.ALLOWED_HOSTS, "127.0.0.1"],
            # Hashed static names need collectstatic; the plain storage keeps the bench self-contained.
            STORAGES={
                **settings.STORAGES,
                "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
            },
        ):
            results.append((bench, count, run(bench, args.requests)))
    print_table(database, results)


if __name__ == "__main__":
    main()
