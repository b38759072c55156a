"""The weekly health-score computation for 50,000 customers with a year of interactions and usage:
prints its time and its number of SQL queries (target: under a minute on this machine).

    .venv/bin/python bench/health_scores.py            # postgres://postgres@127.0.0.1:5432/skalin_bench_health
    .venv/bin/python bench/health_scores.py --reseed   # drop and seed again
    DATABASE_URL=... .venv/bin/python bench/health_scores.py --customers 5000

Seeds once with server-side INSERT ... SELECT generate_series (PostgreSQL only): 6 health profiles (one
customer in six without a profile, one profile of 8 customers so that its peers are the workspace), per
customer about 24 interactions over the year (emails in and out, meetings, calls, notes), a usage day
roughly every week of the year (52 rows, 2.6 million in all), one to three Pulses over the year and one or
two agreements. Then times `health_compute` twice (the first week, then the next one, which also compares
with the week before) and the 30-minute aggregation of 100,000 raw events. Asserts nothing about time."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path
from urllib.parse import unquote, urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "skalin.settings")
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/skalin_bench_health"
SLUG = "bench-health"


def prepare_database(reseed: bool) -> str:
    url = os.environ.setdefault("DATABASE_URL", DEFAULT_URL)
    parsed = urlparse(url)
    if not parsed.scheme.startswith("postgres"):
        sys.exit("This benchmark seeds with PostgreSQL's generate_series: point DATABASE_URL at PostgreSQL.")
    import psycopg
    from psycopg import sql

    name = unquote(parsed.path.lstrip("/"))
    with psycopg.connect(
        host=parsed.hostname or "127.0.0.1",
        port=parsed.port or 5432,
        user=unquote(parsed.username or "postgres"),
        password=unquote(parsed.password or "") or None,
        dbname="postgres",
        autocommit=True,
    ) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists and reseed:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
            exists = None
        if not exists:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        version = admin.execute("SHOW server_version").fetchone()
    return f"PostgreSQL {version[0] if version else '?'} (database {name})"


def seed(count: int) -> tuple[int, float | None]:
    from django.db import connection, transaction

    from customers.models import Phase
    from healthscore.models import HealthScore
    from workspaces.models import Workspace
    from workspaces.services import workspace_create

    workspace = Workspace.objects.filter(slug=f"{SLUG}-{count}").first()
    if workspace is not None:
        return workspace.pk, None
    started = time.monotonic()
    with transaction.atomic():
        workspace = workspace_create(name=f"Bench health {count:,}", slug=f"{SLUG}-{count}", email_domains=[])
        run_phase = Phase.objects.get(workspace=workspace, technical_name="run").pk
        ws = workspace.pk
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO customers_healthprofile (workspace_id, name) "
                "SELECT %s, 'Profile ' || p FROM generate_series(1, 6) p",
                [ws],
            )
            cursor.execute(
                "SELECT id FROM customers_healthprofile WHERE workspace_id = %s ORDER BY name", [ws]
            )
            profiles = [row[0] for row in cursor.fetchall()]
            # Profile 6 gets only 8 customers: its members are compared with the whole workspace.
            cursor.execute(
                """
                INSERT INTO customers_customer (workspace_id, name, domain, ref_id, phase_id, health_profile_id,
                    custom_values, csm_pulse_note, active_mrr, created_at, updated_at)
                SELECT %(ws)s, 'Customer ' || i, 'c' || i || '.example', 'H-' || i, %(phase)s,
                    CASE WHEN i <= 8 THEN %(small)s WHEN i %% 6 = 0 THEN NULL
                         ELSE (ARRAY[%(p1)s, %(p2)s, %(p3)s, %(p4)s, %(p5)s])[1 + i %% 5] END,
                    '{}'::jsonb, '', 0, now(), now()
                FROM generate_series(1, %(n)s) i
                """,
                {
                    "ws": ws,
                    "phase": run_phase,
                    "small": profiles[5],
                    "n": count,
                    **{f"p{k + 1}": profiles[k] for k in range(5)},
                },
            )
            cursor.execute(
                """
                INSERT INTO interactions_interaction (workspace_id, customer_id, kind, direction, customer_replied,
                    attended, occurred_at, subject, body, author_name, participants, source, external_id,
                    created_at, updated_at)
                SELECT c.workspace_id, c.id,
                    (ARRAY['email','email','meeting','call','note'])[1 + (g + c.id) %% 5],
                    CASE WHEN (g + c.id) %% 2 = 0 THEN 'incoming' ELSE 'outgoing' END,
                    (g * c.id) %% 3 = 0, (g + c.id) %% 7 <> 0,
                    now() - (random() * 365) * interval '1 day', 'Bench', '', '', '[]'::jsonb, 'manual', '',
                    now(), now()
                FROM customers_customer c CROSS JOIN generate_series(1, 1 + (c.id %% 47)) g
                WHERE c.workspace_id = %s
                """,
                [ws],
            )
            cursor.execute(
                """
                INSERT INTO healthscore_usagedaily (workspace_id, customer_id, day, events, users)
                SELECT c.workspace_id, c.id, current_date - (w * 7 + c.id %% 7)::int,
                    (c.id %% 97) * (1 + w %% 3) + (random() * 20)::int, 1 + c.id %% 9
                FROM customers_customer c CROSS JOIN generate_series(0, 51) w
                WHERE c.workspace_id = %s AND c.id %% 11 <> 0
                """,
                [ws],
            )
            cursor.execute(
                """
                INSERT INTO healthscore_pulseentry (workspace_id, customer_id, pulse, note, set_at, set_by_label)
                SELECT c.workspace_id, c.id, 1 + (c.id + k) %% 5, '', now() - ((c.id + k * 53) %% 300) * interval '1 day', 'bench'
                FROM customers_customer c CROSS JOIN generate_series(1, 1 + c.id %% 3) k
                WHERE c.workspace_id = %s AND c.id %% 13 <> 0
                """,
                [ws],
            )
            cursor.execute(
                """
                INSERT INTO agreements_agreement (workspace_id, customer_id, plan_name, amount, amount_period, mrr,
                    one_time_fee, currency, start_date, end_date, duration_unit, notice_unit, tacit_renewal,
                    status, source, external_id, ends_on, renews_on, created_at, updated_at)
                SELECT c.workspace_id, c.id, 'Plan', m, 'mrr', m, 0, 'EUR', s, s + 365, '', '', false,
                    CASE WHEN s + 365 <= current_date THEN 'finished' WHEN s > current_date THEN 'validated' ELSE 'active' END,
                    'ui', '', s + 365, s + 365, now(), now()
                FROM (
                    SELECT c.*, k, 100 + (c.id * k) %% 900 AS m, current_date - ((c.id * 7 + k * 200) %% 500)::int AS s
                    FROM customers_customer c CROSS JOIN generate_series(1, 1 + c.id %% 2) k
                    WHERE c.workspace_id = %s AND c.id %% 17 <> 0
                ) c
                """,
                [ws],
            )
        assert not HealthScore.objects.filter(workspace_id=ws).exists()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return ws, time.monotonic() - started


def counts(workspace_id: int) -> dict[str, int]:
    from agreements.models import Agreement
    from customers.models import Customer
    from healthscore.models import PulseEntry, UsageDaily
    from interactions.models import Interaction

    return {
        "customers": Customer.objects.filter(workspace_id=workspace_id).count(),
        "interactions": Interaction.objects.filter(workspace_id=workspace_id).count(),
        "usage days": UsageDaily.objects.filter(workspace_id=workspace_id).count(),
        "pulses": PulseEntry.objects.filter(workspace_id=workspace_id).count(),
        "agreements": Agreement.objects.filter(workspace_id=workspace_id).count(),
    }


def timed_compute(workspace_id: int, as_of: dt.datetime) -> tuple[float, int, object]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from healthscore.services import health_compute

    with CaptureQueriesContext(connection) as queries:
        started = time.monotonic()
        result = health_compute(workspace_id=workspace_id, as_of=as_of)
        elapsed = time.monotonic() - started
    return elapsed, len(queries), result


def timed_aggregation(workspace_id: int, events: int) -> tuple[float, int, object]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from healthscore.models import UsageEvent
    from healthscore.services import usage_events_aggregate

    UsageEvent.objects.filter(workspace_id=workspace_id).delete()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO healthscore_usageevent (workspace_id, event_id, name, occurred_at, email, customer_ref,
                customer_id, received_at)
            SELECT %s, 'bench-' || g, 'page.view', now() - (random() * 20) * interval '1 day',
                'user' || (g %% 7) || '@c' || c.id || '.example', '', c.id, now()
            FROM generate_series(1, %s) g
            JOIN customers_customer c ON c.workspace_id = %s AND c.ref_id = 'H-' || (1 + g %% 5000)
            """,
            [workspace_id, events, workspace_id],
        )
        cursor.execute("ANALYZE healthscore_usageevent")
    with CaptureQueriesContext(connection) as queries:
        started = time.monotonic()
        result = usage_events_aggregate(now=timezone.now())
        elapsed = time.monotonic() - started
    return elapsed, len(queries), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--reseed", action="store_true")
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args()
    label = prepare_database(args.reseed)

    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone

    from healthscore.models import HealthScore

    call_command("migrate", verbosity=0)
    print(f"Database: {label}")
    workspace_id, seeded = seed(args.customers)
    print(f"Seeded in {seeded:.1f}s" if seeded is not None else "Seed already there")
    print(", ".join(f"{value:,} {name}" for name, value in counts(workspace_id).items()))

    HealthScore.objects.filter(workspace_id=workspace_id).delete()
    now = timezone.now()
    for label_, as_of in (("first week", now - dt.timedelta(days=7)), ("next week", now)):
        elapsed, queries, result = timed_compute(workspace_id, as_of)
        print(
            f"Weekly computation ({label_}): {elapsed:.1f}s, {queries} queries, "
            f"{result.customers:,} customers scored, {len(result.changed):,} scores changed"  # type: ignore[attr-defined]
        )
    elapsed, queries, result = timed_compute(workspace_id, now)
    print(f"Recomputing the same week: {elapsed:.1f}s, {queries} queries, {len(result.changed):,} changed")  # type: ignore[attr-defined]
    elapsed, queries, agg = timed_aggregation(workspace_id, args.events)
    print(
        f"Usage aggregation of {agg.aggregated:,} raw events into {agg.days:,} customer-days: "  # type: ignore[attr-defined]
        f"{elapsed:.1f}s, {queries} queries"
    )


if __name__ == "__main__":
    main()
