"""How fast the header search answers over 50,000 customers and 150,000 contacts, and how long the index
takes to build in full and to catch up with a few hundred changes.

    .venv/bin/python bench/search.py                   # PostgreSQL, skalin_bench_search (created if missing)
    DATABASE_URL=sqlite:////tmp/bench-search.sqlite3 .venv/bin/python bench/search.py

See bench/README.md. Prints figures; asserts nothing about time."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# Python put this script's folder, bench/, first on sys.path: there this file is the module `search`, and
# would be imported in place of the search app. Only the project root stays; bench.customer_list is then
# imported as a module of the (namespace) package bench. Celery's Django fix-up puts the working directory
# first on sys.path too: it must not be bench/ either.
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))
os.chdir(ROOT)
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/skalin_bench_search")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "skalin.settings")

from bench.customer_list import prepare_database  # noqa: E402  (the same database set-up as the other benches)

SLUG = "bench-search"
BATCH = 5000


def seed(customers: int, contacts_each: int, rng: random.Random) -> tuple[Any, float | None]:
    from django.db import connection, transaction

    from customers.models import Contact, Customer, Phase
    from skalin import demo_data
    from workspaces.models import Membership, Role, Workspace
    from workspaces.services import user_get_or_create, workspace_create

    workspace = Workspace.objects.filter(slug=SLUG).first()
    if workspace is not None:
        return Membership.objects.get(workspace=workspace, role=Role.CSM), None
    started = time.monotonic()
    with transaction.atomic():
        workspace = workspace_create(name="Bench search", slug=SLUG, email_domains=[f"{SLUG}.test"])
        user = user_get_or_create(email=f"csm@{SLUG}.test", first_name="Bench", last_name="CSM")
        membership = Membership.objects.create(workspace=workspace, user=user, role=Role.CSM)
        run = Phase.objects.get(workspace=workspace, technical_name="run")
        names = rng.sample(range(demo_data.NAME_SPACE), min(customers, demo_data.NAME_SPACE))
        people = [(first, last) for first in demo_data.FIRST_NAMES for last in demo_data.LAST_NAMES]
        for start in range(0, customers, BATCH):
            rows = []
            for index in range(start, min(start + BATCH, customers)):
                name, domain = demo_data.company_name(names[index % len(names)])
                if index >= len(names):  # more customers than distinct names: number the repeats
                    name, domain = f"{name} {index // len(names)}", f"{index // len(names)}.{domain}"
                rows.append(
                    Customer(
                        workspace=workspace, name=name, domain=domain, ref_id=f"S-{index:06d}", phase=run
                    )
                )
            Customer.objects.bulk_create(rows)
            contacts = []
            for customer in rows:
                for n in range(contacts_each):
                    first, last = rng.choice(people)
                    local = demo_data.email_local_part(first, last)
                    contacts.append(
                        Contact(
                            workspace=workspace,
                            customer=customer,
                            first_name=first,
                            last_name=last,
                            email=f"{local}.{customer.pk}.{n}@{customer.domain}",
                            secondary_emails=[f"{local[:1]}{customer.pk}@mail.example"] if n == 0 else [],
                            phone=f"+33 1 {rng.randint(10, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)}",
                        )
                    )
            Contact.objects.bulk_create(contacts)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return membership, time.monotonic() - started


def queries(rng: random.Random, workspace_id: int, count: int) -> list[str]:
    """Varied queries: name prefixes of 2-6 letters, whole names, two words, emails and their domains,
    Customer IDs, phone fragments, one-letter typos, accents, and words that match nothing."""
    from customers.models import Contact, Customer

    # The same sample on every run of the benchmark: ids drawn by the seeded generator.
    customer_ids = list(Customer.objects.filter(workspace_id=workspace_id).values_list("pk", flat=True))
    contact_ids = list(Contact.objects.filter(workspace_id=workspace_id).values_list("pk", flat=True))
    names = list(
        Customer.objects.filter(pk__in=rng.sample(customer_ids, min(200, len(customer_ids))))
        .order_by("pk")
        .values_list("name", "domain", "ref_id")
    )
    people = list(
        Contact.objects.filter(pk__in=rng.sample(contact_ids, min(200, len(contact_ids))))
        .order_by("pk")
        .values_list("first_name", "last_name", "email", "phone")
    )
    makers = [
        lambda: rng.choice(names)[0].split()[0][: rng.randint(2, 6)],
        lambda: rng.choice(names)[0],
        lambda: " ".join(rng.choice(names)[0].split()[:2]),
        lambda: rng.choice(names)[1],
        lambda: rng.choice(names)[2],
        lambda: rng.choice(people)[0],
        lambda: f"{rng.choice(people)[0]} {rng.choice(people)[1]}",
        lambda: rng.choice(people)[2],
        lambda: rng.choice(people)[2].split("@")[0][:8],
        lambda: rng.choice(people)[3][-8:],
        lambda: _typo(rng, rng.choice(names)[0].split()[0]),
        lambda: _typo(rng, rng.choice(people)[1]),
        lambda: "société",
        lambda: rng.choice(["zzqxw", "nothing-here", "qqq"]),
    ]
    return [makers[i % len(makers)]() for i in range(count)]


def _typo(rng: random.Random, word: str) -> str:
    if len(word) < 5:
        return word
    i = rng.randrange(1, len(word) - 1)
    return word[:i] + word[i + 1 :]  # one letter dropped


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--contacts-each", type=int, default=3)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument(
        "--changes", type=int, default=500, help="customers changed before the incremental pass"
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="runs of the query set; each query's fastest run is also reported (the machine is shared)",
    )
    parser.add_argument("--reseed", action="store_true")
    args = parser.parse_args()
    label = prepare_database(args.reseed)

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.db.models import CharField, Value
    from django.db.models.functions import Cast, Concat
    from django.utils import timezone

    import search as search_app
    from customers.models import Contact, Customer
    from search.models import SearchEntry, SearchWord
    from search.selectors import search

    if Path(search_app.__file__ or "").parent != ROOT / "search":
        sys.exit(
            f"`search` was imported from {search_app.__file__}, not from the search app: run from {ROOT}"
        )
    from search.services import search_index_pass

    call_command("migrate", verbosity=0)
    rng = random.Random(1)
    membership, seeded = seed(args.customers, args.contacts_each, rng)
    workspace_id = membership.workspace_id
    print(f"Database: {label}")
    print(
        f"Workspace: {Customer.objects.filter(workspace_id=workspace_id).count():,} customers, "
        f"{Contact.objects.filter(workspace_id=workspace_id).count():,} contacts"
        + (f" (seeded in {seeded:.1f}s)" if seeded is not None else " (already seeded)")
    )

    # The rows were written minutes ago; a real workspace's were not: age them so that the incremental pass
    # below measures the changes made for it, not the whole seed inside the pass's overlap window.
    a_day_ago = timezone.now() - dt.timedelta(days=1)
    Customer.objects.filter(workspace_id=workspace_id).update(updated_at=a_day_ago)
    Contact.objects.filter(workspace_id=workspace_id).update(updated_at=a_day_ago)

    def vacuum() -> None:
        # What autovacuum does after a pass that wrote many rows: dead row versions and the GIN pending
        # list are cleared, the statistics refreshed.
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE search_searchentry")
                cursor.execute("VACUUM ANALYZE search_searchword")

    # The first full pass of a workspace: every entry and word written.
    SearchEntry.objects.filter(workspace_id=workspace_id).delete()
    SearchWord.objects.filter(workspace_id=workspace_id).delete()
    started = time.monotonic()
    first = search_index_pass(full=True)
    built = time.monotonic() - started
    vacuum()
    print(
        f"Full reindex from an empty index: {built:.1f}s, {first.written if first else 0:,} entries written, "
        f"{SearchWord.objects.filter(workspace_id=workspace_id).count():,} dictionary words"
    )
    # The daily full pass over rows that did not change: read and compared, nothing written.
    started = time.monotonic()
    again = search_index_pass(full=True)
    full = time.monotonic() - started
    print(
        f"Full reindex with nothing changed: {full:.1f}s, {again.written if again else '-'} entries written"
    )

    changed = list(
        Customer.objects.filter(workspace_id=workspace_id)
        .order_by("?")
        .values_list("pk", flat=True)[: args.changes]
    )
    # A new Customer ID each run (the rows' updated_at moves too): their entries' text changes; their
    # contacts are read again (they show the customer's name) but are unchanged, so not written.
    Customer.objects.filter(pk__in=changed).update(
        ref_id=Concat(Value("S-"), Cast("pk", CharField()), Value(f"-{int(time.time()) % 100000}")),
        updated_at=timezone.now(),
    )
    doomed = Contact.objects.filter(workspace_id=workspace_id).order_by("-pk").first()
    if doomed is not None:
        doomed.delete()
    started = time.monotonic()
    result = search_index_pass()
    incremental = time.monotonic() - started
    print(
        f"Incremental reindex after {len(changed)} changed customers and 1 deleted contact: {incremental:.2f}s "
        f"(read {dict((str(k), v) for k, v in result.indexed.items()) if result else '-'}, "
        f"written {result.written if result else '-'}, removed {result.removed if result else '-'})"
    )
    vacuum()

    texts = queries(random.Random(2), workspace_id, args.queries)
    for per_kind, what in ((8, "header panel (8 per kind)"), (50, "results page (50 per kind)")):
        runs: dict[str, list[float]] = {text: [] for text in texts}
        typo_hits = empty = 0
        fallback: set[str] = set()
        for text in texts:
            # Untimed: an index in use is in memory; the vacuum above left the cache cold.
            search(membership=membership, query=text, per_kind=per_kind)
        for _ in range(args.repeat):
            for text in texts:
                began = time.perf_counter()
                found = search(membership=membership, query=text, per_kind=per_kind)
                runs[text].append((time.perf_counter() - began) * 1000)
                if found.typo_matches or (found.total == 0 and connection.vendor == "postgresql"):
                    fallback.add(text)  # the typo fallback ran
        for text in texts:
            found = search(membership=membership, query=text, per_kind=per_kind)
            typo_hits += found.typo_matches
            empty += found.total == 0
        every = [ms for timings in runs.values() for ms in timings]
        best = {text: min(timings) for text, timings in runs.items()}
        print(
            f"Search, {what}, {len(texts)} queries ({typo_hits} answered by typo matching, {empty} with no result)"
        )
        print(
            f"  every run ({len(every)}): p50 {percentile(every, 0.5):.1f} ms, p95 {percentile(every, 0.95):.1f} ms, "
            f"p99 {percentile(every, 0.99):.1f} ms, max {max(every):.1f} ms, mean {statistics.mean(every):.1f} ms"
        )
        fastest = list(best.values())
        print(
            f"  fastest of {args.repeat} per query: p50 {percentile(fastest, 0.5):.1f} ms, "
            f"p95 {percentile(fastest, 0.95):.1f} ms, p99 {percentile(fastest, 0.99):.1f} ms, "
            f"max {max(fastest):.1f} ms"
        )
        direct = [ms for text, ms in best.items() if text not in fallback]
        typo = [ms for text, ms in best.items() if text in fallback]
        if typo and direct:
            print(
                f"  (fastest) without the typo fallback ({len(direct)}): p50 {percentile(direct, 0.5):.1f} ms, "
                f"p95 {percentile(direct, 0.95):.1f} ms; with it ({len(typo)}): "
                f"p50 {percentile(typo, 0.5):.1f} ms, p95 {percentile(typo, 0.95):.1f} ms"
            )
        slow = sorted(((ms, text) for text, ms in best.items()), reverse=True)[:3]
        print("  slowest (fastest run): " + ", ".join(f"{text!r} {ms:.0f} ms" for ms, text in slow))


if __name__ == "__main__":
    main()
