import time
from typing import Any

import requests
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from customers.models import CustomerSource
from integrations.models import SyncRun
from integrations.sync import sync_connection
from workspaces.models import Workspace

from ...demo import DEMO_COMPANIES, connect_demo_hubspot
from ...migration import (
    MIGRATING_NAME,
    attach_stripe_ids,
    migration_demo_logins,
    prepare_migration_demo,
    seed_migration_portal,
)

DEMO_WORKSPACE = "demo-saas"


class Command(BaseCommand):
    help = "Connect the demo workspace to the sandbox HubSpot; with --first-sync, run its first sync once the server answers."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--workspace", default=DEMO_WORKSPACE, help="Slug of the workspace to connect.")
        parser.add_argument("--companies", type=int, default=DEMO_COMPANIES)
        parser.add_argument(
            "--first-sync", action="store_true", help="Wait for the web server, then sync once."
        )
        parser.add_argument("--wait", type=float, default=60.0, help="Seconds to wait for the web server.")

    def handle(self, *args: Any, **options: Any) -> None:
        workspace = Workspace.objects.filter(slug=options["workspace"]).first()
        if workspace is None:
            raise CommandError(f"No workspace '{options['workspace']}': run `manage.py seed_demo` first.")
        try:
            connection, created = connect_demo_hubspot(workspace=workspace, companies=options["companies"])
        except RuntimeError as error:
            raise CommandError(str(error)) from error
        if created:
            self.stdout.write(
                self.style.SUCCESS(
                    f"{workspace} is connected to the sandbox HubSpot (portal {connection.remote_account_id}, "
                    f"{options['companies']} companies)."
                )
            )
        migrating = prepare_migration_demo()
        if migrating.created:
            self.stdout.write(self.style.SUCCESS(f"{MIGRATING_NAME}: {migrating.salesforce}."))
        if not options["first_sync"]:
            self._print_migration_logins()
            return
        self._wait_for_server(options["wait"])
        self._first_hubspot_sync(connection)
        self._migration_demo_first_sync(migrating.connection)

    def _print_migration_logins(self) -> None:
        self.stdout.write(f"\nMigration tour ({MIGRATING_NAME}, from Salesforce to HubSpot):")
        for email, password, role in migration_demo_logins():
            self.stdout.write(f"  {email:<22}  password: {password}   {role} of {MIGRATING_NAME}")

    def _migration_demo_first_sync(self, connection: Any) -> None:
        """The migrating workspace's life on Salesforce, then the HubSpot portal its company prepared (its
        own portal: the demo workspace's HubSpot never sees these companies)."""
        done = [SyncRun.Status.SUCCEEDED, SyncRun.Status.PARTIAL]
        if connection is not None and not connection.runs.filter(status__in=done).exists():
            run = sync_connection(connection_id=connection.pk, trigger=SyncRun.Trigger.COMMAND)
            counts = run.by_object.get("customers", {})
            self.stdout.write(
                self.style.SUCCESS(
                    f"{MIGRATING_NAME}: Salesforce run #{run.pk} {run.get_status_display().lower()}, "
                    f"{counts.get('created', 0)} customers."
                )
            )
        if (
            connection is not None
            and not CustomerSource.objects.filter(
                customer__workspace=connection.workspace, source="stripe"
            ).exists()
        ):
            stripe = attach_stripe_ids(workspace=connection.workspace)
            self.stdout.write(f"{MIGRATING_NAME}: {stripe} customers carry a Stripe id.")
        portal = seed_migration_portal()
        self.stdout.write(self.style.SUCCESS(f"Sandbox HubSpot for the migration tour: {portal.summary()}."))

    def _first_hubspot_sync(self, connection: Any) -> None:
        if connection.runs.filter(status__in=[SyncRun.Status.SUCCEEDED, SyncRun.Status.PARTIAL]).exists():
            self.stdout.write(
                "The sandbox HubSpot was synced before; the hourly schedule keeps it up to date."
            )
            return
        run = sync_connection(connection_id=connection.pk, trigger=SyncRun.Trigger.COMMAND)
        counts = run.by_object.get("customers", {})
        self.stdout.write(
            self.style.SUCCESS(
                f"First HubSpot sync: run #{run.pk} {run.get_status_display().lower()}, "
                f"{counts.get('created', 0)} customers created, {counts.get('updated', 0)} merged into existing ones. "
                "See Settings > Integrations."
            )
        )

    def _wait_for_server(self, seconds: float) -> None:
        url = f"{settings.SANDBOX_BASE_URL}/version/"
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                if requests.get(url, timeout=2).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(1)
        raise CommandError(
            f"The web server did not answer at {url}; run `manage.py sandbox_demo --first-sync` later."
        )
