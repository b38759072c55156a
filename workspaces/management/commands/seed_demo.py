"""`manage.py seed_demo`: the demo workspace of `make demo`, created once, then its logins shown again."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from skalin.demo_data import DEMO_CUSTOMERS, seed_demo


class Command(BaseCommand):
    help = "Create the 'Demo SaaS' workspace (and 'Other Corp') with realistic data; print the logins."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--customers", type=int, default=DEMO_CUSTOMERS, help="How many customers.")
        parser.add_argument("--seed", type=int, default=7, help="Random seed (same seed, same data).")

    def handle(self, *args: Any, customers: int, seed: int, **options: Any) -> None:
        started = time.monotonic()
        try:
            result = seed_demo(customers=customers, seed=seed)
        except ValueError as error:
            self.stderr.write(self.style.ERROR(str(error)))
            raise SystemExit(2) from error
        if result.created:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Demo data created: {result.customers} customers in {time.monotonic() - started:.1f}s."
                )
            )
        else:
            self.stdout.write("The demo workspace already exists; nothing was added.")
        self.stdout.write("\nLog in with one of these accounts:")
        width = max(len(login.email) for login in result.logins)
        for login in result.logins:
            self.stdout.write(
                f"  {login.email:<{width}}  password: {login.password}   {login.role} of {login.workspace}"
            )
        self.stdout.write("(Other Corp is a separate company: Demo SaaS users never see its customers.)")
