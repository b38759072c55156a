from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from integrations.models import Connection, SyncRun
from integrations.sync import sync_connection


class Command(BaseCommand):
    help = "Run one sync of a CRM connection now, printing its progress and the run's counts."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("connection_id", type=int)
        parser.add_argument(
            "--plan", action="store_true", help="Dry run: show what would change, write nothing."
        )
        parser.add_argument(
            "--approve", action="store_true", help="Go past the mass-change breaker this once."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        connection_id = options["connection_id"]
        if not Connection.objects.filter(pk=connection_id).exists():
            known = ", ".join(f"{c.pk} ({c})" for c in Connection.objects.all()[:20]) or "none"
            raise CommandError(f"No connection {connection_id}. Connections: {known}.")
        run = sync_connection(
            connection_id=connection_id, trigger=SyncRun.Trigger.COMMAND, progress=self.stdout.write
        )
        counts = ", ".join(f"{name.replace('_', ' ')} {value}" for name, value in run.counts().items())
        self.stdout.write(f"Run #{run.pk}: {run.get_status_display()} ({counts}; {run.api_calls} API calls)")
        for warning in run.warnings[:20]:
            self.stdout.write(self.style.WARNING(f"  warning: {warning}"))
        for error in run.errors:
            self.stdout.write(self.style.ERROR(f"  error: {error.get('message')} -> {error.get('next')}"))
        if run.status in (SyncRun.Status.FAILED, SyncRun.Status.RATE_LIMITED):
            raise CommandError(f"Run #{run.pk} {run.get_status_display().lower()}.")

    def _print_plan(self, run: SyncRun) -> None:
        self.stdout.write(self.style.MIGRATE_HEADING(f"Plan #{run.pk}: nothing was written."))
        for object_type, counts in run.by_object.items():
            summary = ", ".join(f"{name.replace('_', ' ')} {value}" for name, value in counts.items())
            self.stdout.write(f"  {object_type}: {summary}")
            for kind, samples in run.plan.get(object_type, {}).items():
                for sample in samples[:5]:
                    details = ", ".join(f"{key}={value}" for key, value in sample.items())
                    self.stdout.write(f"    {kind}: {details}")
