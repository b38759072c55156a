from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.module_loading import import_string

SEEDERS = {
    "hubspot": "sandbox.hubspot.seed.seed",
    "salesforce": "sandbox.salesforce.seed.seed",
    "pipedrive": "sandbox.pipedrive.seed.seed",
    "zoho": "sandbox.zoho.seed.seed",
    "sellsy": "sandbox.sellsy.seed.seed",
}


class Command(BaseCommand):
    help = "Fill a sandbox CRM with realistic, messy data (missing domains, parent/child, Unicode names...)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--crm", required=True, choices=sorted(SEEDERS))
        parser.add_argument("--companies", type=int, default=200)
        parser.add_argument("--seed", type=int, default=7, help="Random seed, for repeatable data.")
        parser.add_argument(
            "--account",
            default="",
            help="Sandbox account (portal / org) id; default: the demo one. HubSpot replaces that portal's "
            "data only (other portals, such as the migration tour's, are kept); the other CRMs replace all "
            "of their sandbox data.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["companies"] < 0:
            raise CommandError("--companies must be zero or more.")
        seed = import_string(SEEDERS[options["crm"]])
        summary = seed(
            companies=options["companies"], random_seed=options["seed"], account_id=options["account"] or None
        )
        self.stdout.write(self.style.SUCCESS(f"Sandbox {options['crm']}: {summary}"))
