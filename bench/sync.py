"""How fast a HubSpot sync runs against the sandbox HubSpot, how many API calls it makes compared with the
fewest its page sizes allow, and whether its memory stays flat as the number of records grows.

    .venv/bin/python bench/sync.py                           # a temporary SQLite file
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/skalin_bench_sync .venv/bin/python bench/sync.py

The web app serves the sandbox HubSpot from a gunicorn subprocess on a free loopback port; every sync runs
in a fresh Python subprocess, so its peak memory is its own. See bench/README.md. Prints figures; asserts
nothing about time."""

from __future__ import annotations

import argparse
import atexit
import datetime as dt
import json
import math
import os
import random
import re
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tracemalloc
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "skalin.settings")

from customer_list import prepare_database  # noqa: E402  (the same database set-up as the other benches)

RANDOM_SEED = 11  # the sandbox portal's seed
CHANGE_SHARE = 0.01  # share of companies, contacts and deals changed before the incremental run
CHANGE_SPAN = dt.timedelta(minutes=3)  # the changes are stamped over this span, up to now
SMALL_CITY = "Paris"  # the small run's selection: the customers of one city (about 1 in 9)
SEARCH_PAGE = 200  # HubSpot search: 200 results a page (integrations/crms/hubspot.py SEARCH_LIMIT)
BATCH = 100  # batch reads and v4 association batch reads: 100 inputs (BATCH_LIMIT)
ENGAGEMENTS = {"email": "emails", "meeting": "meetings", "call": "calls", "note": "notes"}
RECORD_COUNTERS = ("created", "updated", "unchanged", "skipped", "quarantined")
OBJECTS = ("customers", "contacts", "agreements", "interactions", "scores")


# ---- environment, database, server ------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """gunicorn serving the web app (and so the sandbox) on a loopback port, stopped whatever happens."""

    def __init__(self, port: int, workers: int) -> None:
        self.port, self.workers = port, workers
        self.log = Path(tempfile.mkstemp(prefix="skalin-bench-gunicorn-", suffix=".log")[1])
        atexit.register(self.log.unlink, missing_ok=True)
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, wait: float = 60.0) -> None:
        import requests

        command = [
            str(Path(sys.executable).with_name("gunicorn")),
            "skalin.wsgi",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(self.workers),
            "--timeout",
            "300",
            "--log-level",
            "warning",
        ]
        with self.log.open("wb") as log:
            # A session of its own: Ctrl-C reaches this script, which stops the server in order.
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=os.environ.copy(), stdout=log, stderr=log, start_new_session=True
            )
        deadline = time.monotonic() + wait
        url = f"http://127.0.0.1:{self.port}/version/"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn stopped at start:\n{self.log.read_text()[-2000:]}")
            try:
                if requests.get(url, timeout=2).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.3)
        raise RuntimeError(
            f"gunicorn did not answer {url} within {wait:.0f}s:\n{self.log.read_text()[-2000:]}"
        )

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()  # gunicorn's master stops its workers on SIGTERM
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _exit_on_sigterm(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


# ---- the sandbox portal ---------------------------------------------------------------------------------


def ensure_seed(companies: int, reseed: bool) -> float | None:
    """Seconds spent seeding, or None when the portal already holds that many companies."""
    from sandbox.hubspot.schema import DEFAULT_ACCOUNT
    from sandbox.hubspot.seed import seed
    from sandbox.hubspot.store import records

    if not reseed and records(DEFAULT_ACCOUNT, "companies").count() == companies:
        return None
    started = time.perf_counter()
    print(f"Seeding the sandbox HubSpot with {companies:,} companies ...", flush=True)
    print(f"  {seed(companies=companies, random_seed=RANDOM_SEED)}", flush=True)
    return time.perf_counter() - started


def set_rate_limit(calls_per_10s: int) -> None:
    """The portal's rate limit (sandbox/common.py over_rate_limit), 0 for none: HubSpot gives a public app
    110 calls per 10 seconds per portal (crm-apis.md §1.5)."""
    from sandbox.hubspot import schema
    from sandbox.models import SandboxAccount

    SandboxAccount.objects.update_or_create(
        crm=schema.CRM,
        account_id=schema.DEFAULT_ACCOUNT,
        defaults={"rate_limit": calls_per_10s, "rate_window_seconds": 10},
    )


def portal_counts() -> dict[str, int]:
    from django.db.models import Count

    from sandbox.hubspot.schema import DEFAULT_ACCOUNT
    from sandbox.models import SandboxRecord

    rows = (
        SandboxRecord.objects.filter(crm="hubspot", account_id=DEFAULT_ACCOUNT, archived=False)
        .values_list("object_type")
        .annotate(n=Count("id"))
    )
    return dict(rows)


def change_records(share: float, rng: random.Random) -> dict[str, int]:
    """Change `share` of the companies, contacts and deals as HubSpot users would: one property each, and
    the modification stamp (column and property) moves to the edit's time: the edits are spread over the
    last CHANGE_SPAN, each at its own millisecond, as the sandbox's PATCH stamps successive edits (one
    millisecond for all of them would send the connector through a crowded-millisecond walk that real
    edits never cause)."""
    from sandbox.hubspot import schema
    from sandbox.hubspot.store import iso, now_ms, records

    edits: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
        "companies": lambda p: {"customer_tier": {"gold": "silver", "silver": "bronze"}.get(p.get("customer_tier") or "", "gold")},
        "contacts": lambda p: {"jobtitle": f"{p.get('jobtitle') or 'Staff'} (changed)"},
        "deals": lambda p: {"dealname": f"{p.get('dealname') or 'Deal'} (changed)"},
    }  # fmt: skip
    changed: dict[str, int] = {}
    for object_type, edit in edits.items():
        ids = list(records(schema.DEFAULT_ACCOUNT, object_type).values_list("pk", flat=True))
        picked = rng.sample(ids, max(1, round(len(ids) * share)))
        rows = list(records(schema.DEFAULT_ACCOUNT, object_type).filter(pk__in=picked))
        rng.shuffle(rows)
        end = now_ms()
        step = max(CHANGE_SPAN // len(rows), dt.timedelta(milliseconds=1))
        step -= dt.timedelta(microseconds=step.microseconds % 1000)  # whole milliseconds, as HubSpot stamps
        for n, row in enumerate(rows):
            moment = end - step * (len(rows) - 1 - n)
            row.properties = {**row.properties, **edit(row.properties)}
            row.properties[schema.MODIFIED[object_type]] = iso(moment)
            row.updated_at = moment
        type(rows[0]).objects.bulk_update(rows, ["properties", "updated_at"], batch_size=1000)
        changed[object_type] = len(rows)
    return changed


# ---- the Skalin side ------------------------------------------------------------------------------------


def fresh_connection(slug: str, city: str | None) -> Any:
    """A new workspace connected to the sandbox HubSpot exactly as the demo does (sandbox/demo.py: all four
    blocks in Input, churn on absence), without reseeding the portal. Workspaces of earlier runs stay (a
    workspace cannot be deleted while its customers hold its phases); the new one gets a numbered slug."""
    from unittest import mock

    from integrations.models import ObjectType
    from integrations.services import object_setting_update
    from sandbox import demo
    from workspaces.services import workspace_create

    workspace = workspace_create(name=f"Bench sync {slug}", slug=slug)
    with mock.patch.object(demo, "seed", lambda **kwargs: ""):
        connection, _ = demo.connect_demo_hubspot(workspace=workspace)
    if city:
        setting = connection.object_settings.get(object_type=ObjectType.CUSTOMERS)
        selection = {"lifecycle_stages": ["customer", "evangelist"], "filter_property": "city",
                     "filter_values": [city]}  # fmt: skip
        object_setting_update(
            connection=connection,
            object_type=ObjectType.CUSTOMERS,
            mode=setting.mode,
            options={**setting.options, "selection": selection},
        )
    return connection


# ---- one sync, in a process of its own ---------------------------------------------------------------------


def object_of(url: str) -> str:
    """Which block an API call serves, from its vendor path."""
    path = urlsplit(url).path.split("/sandbox/hubspot", 1)[-1]
    parts = path.strip("/").split("/")
    if "properties" in parts:
        return "scores"
    if parts[:2] == ["crm", "v3"] and parts[2:4] == ["pipelines", "deals"]:
        return "agreements"
    names = set(parts)
    if names & set(ENGAGEMENTS.values()):
        return "interactions"
    if "deals" in names:
        return "agreements"
    if "contacts" in names:
        return "contacts"
    if parts[-1] == "search" or (parts[-1] == "read" and "companies" in names):
        return "customers"
    return "scores"  # PATCH and read-back of a company: the Healthscore and Pulse push


def child_main(connection_id: int, trace: bool, sql_profile: bool) -> None:
    """Run one sync and print its figures as JSON on the last line of stdout."""
    import django

    warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)
    django.setup()
    from django.db import connection as db

    from integrations.models import Connection, SyncRun
    from integrations.services import connector_for
    from integrations.sync import sync_connection

    connector = connector_for(Connection.objects.get(pk=connection_id))
    calls: Counter[str] = Counter()
    session = connector.http.session
    send = session.request

    def counted(method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        calls[object_of(url)] += 1
        return send(method, url, *args, **kwargs)

    session.request = counted  # type: ignore[method-assign,assignment]
    queries: Counter[str] = Counter()
    phase = ["setup"]

    shapes: dict[str, Counter[str]] = defaultdict(Counter)

    def count_query(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        queries[phase[0]] += 1
        if sql_profile:
            shapes[phase[0]][statement_shape(sql)] += 1
        return execute(sql, params, many, context)

    marks: list[tuple[str, float]] = []

    def progress(message: str) -> None:
        marks.append((message, time.perf_counter()))
        if message.startswith("Reading "):
            phase[0] = message.removeprefix("Reading ").rstrip(".")
        print(f"    {time.strftime('%H:%M:%S')} {message[:150]}", file=sys.stderr, flush=True)

    baseline_rss = rss_now()
    if trace:
        tracemalloc.start()
    started = time.perf_counter()
    with db.execute_wrapper(count_query):
        run = sync_connection(
            connection_id=connection_id,
            trigger=SyncRun.Trigger.COMMAND,
            connector=connector,
            progress=progress,
        )
    wall = time.perf_counter() - started
    traced = tracemalloc.get_traced_memory()[1] if trace else None
    seconds: dict[str, float] = {}
    for (message, at), (_, following) in zip(marks, [*marks[1:], ("", started + wall)], strict=True):
        if message.startswith("Reading "):
            seconds[message.removeprefix("Reading ").rstrip(".")] = following - at
    result = {
        "run_id": run.pk,
        "status": run.status,
        "wall": wall,
        "seconds": seconds,
        "api_calls": run.api_calls,
        "calls": dict(calls),
        "throttled": getattr(connector.http, "throttled", 0),
        "by_object": run.by_object,
        "errors": run.errors,
        "warnings": len(run.warnings),
        "queries": sum(queries.values()),
        "queries_by_object": dict(queries),
        "baseline_rss": baseline_rss,
        "peak_rss": peak_rss(),
        "traced_peak": traced,
    }
    for name, counter in shapes.items():
        print(f"    SQL statements while reading {name} (the most frequent):", file=sys.stderr)
        for shape, count in counter.most_common(12):
            print(f"      {count:>9,}  {shape}", file=sys.stderr)
    print(json.dumps(result))


def statement_shape(sql: str) -> str:
    """A statement without its values and column lists, to group the same query."""
    shape = re.sub(r"SELECT .*? FROM", "SELECT ... FROM", sql, count=1, flags=re.S)
    shape = re.sub(r"\((?:%s|\?)(?:, (?:%s|\?))*\)", "(...)", shape)
    shape = re.sub(r"'[^']*'|\b\d+\b", "?", shape)
    shape = re.sub(
        r"SAVEPOINT \S+|RELEASE SAVEPOINT \S+|ROLLBACK TO SAVEPOINT \S+",
        lambda m: m[0].rsplit(" ", 1)[0],
        shape,
    )
    return re.sub(r"\s+", " ", shape)[:170]


def peak_rss() -> int:
    """This process's own peak RSS (VmHWM). Not ru_maxrss: on Linux a child started by fork and exec
    inherits its parent's high-water mark there, which would hide the sync's own peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def rss_now() -> int:
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return pages * os.sysconf("SC_PAGE_SIZE")


@dataclass
class Result:
    label: str
    run_id: int
    status: str
    wall: float
    seconds: dict[str, float]
    api_calls: int
    calls: dict[str, int]
    throttled: int
    by_object: dict[str, dict[str, int]]
    errors: list[Any]
    warnings: int
    queries: int
    queries_by_object: dict[str, int]
    baseline_rss: int
    peak_rss: int
    traced_peak: int | None
    sandbox_calls: int = 0
    minimum: dict[str, int] = field(default_factory=dict)

    def records(self, object_type: str | None = None) -> int:
        kinds = [object_type] if object_type else [o for o in self.by_object if o != "scores"]
        return sum(self.by_object.get(k, {}).get(c, 0) for k in kinds for c in RECORD_COUNTERS)


def run_sync(label: str, connection_id: int, flags: list[str]) -> Result:
    from django.utils import timezone

    from sandbox.models import SandboxCall

    print(f"\n{label}: syncing (connection {connection_id}) ...", flush=True)
    since = timezone.now()
    command = [sys.executable, str(Path(__file__).resolve()), "--child", str(connection_id), *flags]
    done = subprocess.run(command, cwd=ROOT, env=os.environ.copy(), stdout=subprocess.PIPE, check=False)
    lines = done.stdout.decode().strip().splitlines()
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"The sync subprocess failed (exit {done.returncode}): {lines[-5:]}")
    result = Result(label=label, **json.loads(lines[-1]))
    result.sandbox_calls = SandboxCall.objects.filter(crm="hubspot", at__gte=since).count()
    print(
        f"  run #{result.run_id} {result.status} in {result.wall:.1f}s: {result.records():,} records, "
        f"{result.api_calls:,} API calls, {result.queries:,} SQL queries",
        flush=True,
    )
    for error in result.errors:
        print(f"  error: {error}", flush=True)
    return result


# ---- the fewest calls the page sizes allow ------------------------------------------------------------------


def pages(count: int, size: int) -> int:
    return math.ceil(count / size) if count > 0 else 0


def linked(object_type: str, companies: set[str]) -> dict[str, set[str]]:
    """{company id: ids of `object_type` records associated with it}, for the given companies."""
    from sandbox.hubspot.schema import DEFAULT_ACCOUNT
    from sandbox.models import SandboxAssociation

    found: dict[str, set[str]] = defaultdict(set)
    rows = SandboxAssociation.objects.filter(
        crm="hubspot", account_id=DEFAULT_ACCOUNT, from_type="companies", to_type=object_type
    )
    for company, other in rows.values_list("from_id", "to_id").iterator(chunk_size=5000):
        if company in companies:
            found[company].add(other)
    return found


def synced_companies(connection: Any) -> set[str]:
    from integrations.models import ExternalRef, ObjectType

    return set(
        ExternalRef.objects.filter(
            connection=connection, object_type=ObjectType.CUSTOMERS, in_selection=True
        ).values_list("external_id", flat=True)
    )


def minimum_full(connection: Any, result: Result) -> None:
    """The fewest calls a full read needs at HubSpot's page sizes, from the portal's own counts: listing and
    churn enumeration (search, 200 a page), then per object the association reads (100 companies a call)
    and the batch reads (100 records a call); engagements also read their contacts (100 a call)."""
    selected = result.records("customers")
    scope = synced_companies(connection)
    score_calls = result.calls.get("scores", 0)  # the push (none unless Healthscores are set) + properties

    def dependent(object_types: Iterable[str], reads_per_record: int) -> int:
        total = 0
        for object_type in object_types:
            by_company = linked(object_type, scope)
            every = set().union(*by_company.values()) if by_company else set()
            total += pages(len(scope), BATCH) + reads_per_record * pages(len(every), BATCH)
        return total

    result.minimum = {
        "customers": 2 * max(1, pages(selected, SEARCH_PAGE)),
        "contacts": dependent(["contacts"], 1),
        "agreements": 1 + dependent(["deals"], 1),
        "interactions": dependent(ENGAGEMENTS.values(), 2),
        "scores": score_calls,
    }


def dependent_cursors(connection: Any) -> dict[str, Any]:
    """Where each dependent object's next read starts (its cursor less the engine's look-back)."""
    from integrations.models import SyncState
    from integrations.sync import since_for

    return {
        state.object_type: since_for(state)
        for state in SyncState.objects.filter(connection=connection)
        if state.object_type in ("contacts", "agreements", "interactions")
    }


def minimum_incremental(connection: Any, result: Result, selection: int, since: dict[str, Any]) -> None:
    """The fewest calls that find what changed. Customers: the changed companies (search, 200 a page) and
    the churn enumeration of the whole selection (`selection` companies). Each dependent HubSpot object
    (contacts, deals, and each engagement object apart): a search on its modification time from the
    cursor (200 a page, at least one call), the companies of the records it finds through the v4
    association batch read (100 a call; deals: the won ones only, after 1 call for the pipelines'
    won stages), and for engagements linked to a synced company their contacts (100 a call). The counts
    come from the portal: records whose modification time is past the cursor."""
    from sandbox.hubspot.schema import DEFAULT_ACCOUNT
    from sandbox.models import SandboxRecord

    scope = synced_companies(connection)
    changed = result.records("customers")
    minimum = {"customers": max(1, pages(changed, SEARCH_PAGE)) + max(1, pages(selection, SEARCH_PAGE))}
    for object_type, names in (("contacts", ["contacts"]), ("agreements", ["deals"]),
                               ("interactions", list(ENGAGEMENTS.values()))):  # fmt: skip
        floor = since.get(object_type)
        total = 1 if object_type == "agreements" else 0
        for name in names:
            rows = SandboxRecord.objects.filter(
                crm="hubspot", account_id=DEFAULT_ACCOUNT, object_type=name, archived=False
            )
            if floor is not None:
                rows = rows.filter(updated_at__gte=floor)
            found = dict(rows.values_list("external_id", "properties"))
            kept = [i for i, p in found.items() if name != "deals" or p.get("hs_is_closed_won") == "true"]
            total += max(1, pages(len(found), SEARCH_PAGE)) + pages(len(kept), BATCH)
            if name in ENGAGEMENTS.values():
                linked_ids = set().union(*linked(name, scope).values()) if scope else set()
                total += pages(len(linked_ids & set(kept)), BATCH)
        minimum[object_type] = total
    minimum["scores"] = result.calls.get("scores", 0)
    result.minimum = minimum


# ---- the report -------------------------------------------------------------------------------------------


def mb(value: int | None) -> str:
    return f"{value / 2**20:,.0f} MB" if value is not None else "-"


def print_report(
    database: str, limit: str, portal: dict[str, int], results: list[Result], changed: dict[str, int]
) -> None:
    print(f"\nDatabase: {database}; {limit}")
    names = {"calls": "phone calls"}  # the engagement object, not API calls
    print("Sandbox portal: " + ", ".join(f"{n:,} {names.get(k, k)}" for k, n in sorted(portal.items())))
    print(
        "Wall time of sync_connection() in its own process, the sandbox served over loopback by gunicorn.\n"
    )
    head = (
        f"{'run':<24}{'wall':>9}{'records':>9}{'rec/s':>7}{'API calls':>10}{'/rec':>6}{'min':>7}"
        f"{'over':>7}{'429s':>5}{'SQL/rec':>8}{'peak RSS':>10}{'(+sync)':>9}{'py peak':>9}"
    )
    print(head)
    print("-" * len(head))
    for r in results:
        records = r.records()
        minimum = sum(r.minimum.values())
        # Calls answered 429 are retried and counted by the seam: they are not part of the comparison.
        over = (r.api_calls - r.throttled - minimum) / minimum * 100 if minimum else 0.0
        print(
            f"{r.label:<24}{r.wall:>8.1f}s{records:>9,}{records / r.wall:>7.0f}{r.api_calls:>10,}"
            f"{r.api_calls / max(records, 1):>6.2f}{minimum:>7,}{over:>6.0f}%{r.throttled:>5}"
            f"{r.queries / max(records, 1):>8.1f}{mb(r.peak_rss):>10}{mb(r.peak_rss - r.baseline_rss):>9}"
            f"{mb(r.traced_peak):>9}"
        )
    print("\nPer object (records applied, seconds, API calls / fewest possible, SQL statements per record):")
    for r in results:
        print(f"  {r.label}")
        for object_type in OBJECTS:
            calls = r.calls.get(object_type, 0)
            if not calls and not r.records(object_type):
                continue
            minimum = r.minimum.get(object_type, 0)
            excess = f"{(calls - minimum) / minimum * 100:+.0f}%" if minimum else "-"
            records = r.records(object_type)
            sql = r.queries_by_object.get(object_type, 0)
            print(
                f"    {object_type:<13}{records:>8,} records {r.seconds.get(object_type, 0):>7.1f}s "
                f"{calls:>7,} calls / min {minimum:>6,} ({excess:>5})"
                + (f", {sql / records:.1f} SQL/record" if records else "")
            )
        if r.sandbox_calls != r.api_calls:
            print(
                f"    (the sandbox logged {r.sandbox_calls:,} calls during the run; the seam counted {r.api_calls:,})"
            )
    full = [r for r in results if r.label.startswith("full")]
    incremental = next((r for r in results if r.label.startswith("incremental")), None)
    if incremental is not None and full:
        large = full[-1]
        print(
            f"\nIncremental run after changing {', '.join(f'{n:,} {k}' for k, n in changed.items())}: "
            f"{incremental.wall:.1f}s, {incremental.wall / large.wall * 100:.1f}% of the full run's time "
            f"(target under 5%), {incremental.api_calls / max(large.api_calls, 1) * 100:.0f}% of its API calls."
        )
    if len(full) > 1:
        small, large = full[0], full[-1]
        per_record = (large.peak_rss - small.peak_rss) / max(large.records() - small.records(), 1)
        print(
            f"Memory: peak RSS {mb(small.peak_rss)} at {small.records():,} records, {mb(large.peak_rss)} at "
            f"{large.records():,} ({per_record / 1024:.1f} KB more per extra record)"
            + (
                f"; Python heap peak {mb(small.traced_peak)} -> {mb(large.traced_peak)}."
                if small.traced_peak and large.traced_peak
                else "."
            )
        )


# ---- main -------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--companies", type=int, default=20_000, help="companies in the portal (default 20,000)"
    )
    parser.add_argument(
        "--reseed", action="store_true", help="seed the portal again (PostgreSQL: new database)"
    )
    parser.add_argument("--no-small", action="store_true", help="skip the small run (the memory comparison)")
    parser.add_argument(
        "--tracemalloc", action="store_true", help="also trace the Python heap (slower syncs)"
    )
    parser.add_argument("--sql-profile", action="store_true", help="print the most frequent SQL statements")
    parser.add_argument(
        "--rate-limit",
        type=int,
        default=0,
        help="sandbox limit in calls per 10 s (default 0: none; HubSpot: 110)",
    )
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_main(args.child, args.tracemalloc, args.sql_profile)
        return

    database = prepare_database(args.reseed)
    port = free_port()
    # Read by the settings at django.setup(), and inherited by the server and the sync subprocesses.
    os.environ["SANDBOX_ENABLED"] = "true"
    os.environ["SANDBOX_RECORD_CALLS"] = "true"
    os.environ["SANDBOX_BASE_URL"] = f"http://127.0.0.1:{port}"
    import django

    warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)
    django.setup()
    from django.core.management import call_command
    from django.db import connections

    print(f"Migrating {database} ...", flush=True)
    call_command("migrate", verbosity=0)
    seeded_in = ensure_seed(args.companies, args.reseed)
    if seeded_in is not None:
        print(f"  seeded in {seeded_in:.0f}s", flush=True)
    set_rate_limit(args.rate_limit)
    portal = portal_counts()
    connections.close_all()

    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    server = Server(port, args.workers)
    results: list[Result] = []
    changed: dict[str, int] = {}
    flags = [
        flag for flag, on in (("--tracemalloc", args.tracemalloc), ("--sql-profile", args.sql_profile)) if on
    ]
    try:
        server.start()
        print(
            f"Sandbox served by gunicorn ({args.workers} workers) at {os.environ['SANDBOX_BASE_URL']}",
            flush=True,
        )
        if not args.no_small:
            small = fresh_connection("bench-sync-small", SMALL_CITY)
            results.append(run_sync(f"full, {SMALL_CITY} only", small.pk, flags))
            minimum_full(small, results[-1])
        large = fresh_connection("bench-sync-large", None)
        results.append(run_sync("full", large.pk, flags))
        minimum_full(large, results[-1])
        changed = change_records(CHANGE_SHARE, random.Random(RANDOM_SEED))
        print(f"\nChanged {', '.join(f'{n:,} {k}' for k, n in changed.items())} in the sandbox.", flush=True)
        since = dependent_cursors(large)
        results.append(run_sync("incremental (1% changed)", large.pk, flags))
        minimum_incremental(large, results[-1], results[-2].records("customers"), since)
    except RuntimeError as failure:  # a sync that crashed: report what was measured before it
        print(f"\nStopped: {failure}", flush=True)
    finally:
        server.stop()
    if not results:
        raise SystemExit(1)
    limit = f"rate limit {args.rate_limit} calls per 10 s" if args.rate_limit else "no rate limit"
    print_report(database, limit, portal, results, changed)
    print("\nFigures as JSON:")
    print(json.dumps([{k: v for k, v in asdict(r).items() if k != "errors"} for r in results]))


if __name__ == "__main__":
    main()
