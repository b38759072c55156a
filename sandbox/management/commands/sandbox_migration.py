from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ...migration import MIGRATION_PORTAL, MIGRATION_PORTAL_NAME, seed_migration_portal
from ...salesforce.schema import DEFAULT_ORG
from ...salesforce.seed import seed as seed_salesforce
from ...salesforce.store import records


class Command(BaseCommand):
    help = (
        "Prepare the sandbox HubSpot portal of a company migrating from Salesforce (its own portal, apart from "
        "the demo one): the org's accounts as companies carrying their Salesforce Account ID, with contacts, "
        "won deals and activities."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", default=DEFAULT_ORG, help="Sandbox Salesforce org to import from.")
        parser.add_argument(
            "--companies", type=int, default=40, help="Accounts to seed in the org first, if it is empty."
        )
        parser.add_argument("--seed", type=int, default=5, help="Random seed of the org's data.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["companies"] < 1:
            raise CommandError("--companies must be at least 1.")
        if not records(options["org"], "Account").exists():
            summary = seed_salesforce(
                companies=options["companies"], random_seed=options["seed"], account_id=options["org"]
            )
            self.stdout.write(f"Sandbox Salesforce: {summary}")
        portal = seed_migration_portal(org_id=options["org"])
        self.stdout.write(self.style.SUCCESS(f"Sandbox HubSpot: {portal.summary()}."))
        self.stdout.write(
            f"In Skalin, Connect HubSpot and choose the {MIGRATION_PORTAL_NAME} portal ({MIGRATION_PORTAL}) on "
            "the consent page: it holds these companies only."
        )
