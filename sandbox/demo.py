"""The demo workspace's HubSpot, served by the sandbox: seeded, connected and configured the way an Admin
would after clicking through the wizard, so `make demo` shows a live CRM connection and its first run."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from integrations.models import Connection, ObjectType, SyncMode
from integrations.services import object_setting_update, settings_create_defaults
from workspaces.models import Workspace

from .common import issue_pair
from .hubspot import schema
from .hubspot.seed import seed

DEMO_COMPANIES = 40
ACCESS_TOKEN_TTL = 1800


def connect_demo_hubspot(*, workspace: Workspace, companies: int = DEMO_COMPANIES) -> tuple[Connection, bool]:
    """(connection, created). Needs SANDBOX_ENABLED; seeds the sandbox only the first time."""
    if not settings.SANDBOX_ENABLED:
        raise RuntimeError("The CRM sandbox is off: set SANDBOX_ENABLED=true to connect the demo to it.")
    existing = Connection.objects.filter(workspace=workspace, crm="hubspot").first()
    if existing is not None:
        return existing, False
    seed(companies=companies, random_seed=7)
    access, refresh = issue_pair(
        crm=schema.CRM,
        account_id=schema.DEFAULT_ACCOUNT,
        user_email=schema.DEFAULT_USER,
        ttl_seconds=ACCESS_TOKEN_TTL,
    )
    with transaction.atomic():
        connection = Connection(
            workspace=workspace,
            crm="hubspot",
            status=Connection.Status.ACTIVE,
            remote_account_id=schema.DEFAULT_ACCOUNT,
            remote_user_email=schema.DEFAULT_USER,
            owns_customer_id=not Connection.objects.filter(
                workspace=workspace, owns_customer_id=True
            ).exists(),
        )
        connection.set_tokens(
            {
                "access_token": access.value,
                "refresh_token": refresh.value,
                "issued_at": timezone.now().isoformat(),
            },
            expires_at=timezone.now() + dt.timedelta(seconds=ACCESS_TOKEN_TTL),
        )
        connection.save()
        settings_create_defaults(connection=connection)
        object_setting_update(
            connection=connection,
            object_type=ObjectType.CUSTOMERS,
            mode=SyncMode.INPUT,
            options={"churn_on_absence": True, "parent_child": True, "data_back": {"enabled": True}},
            mappings=[
                {"local_field": "name", "remote_field": "name"},
                {"local_field": "domain", "remote_field": "domain"},
                {"local_field": "ref_id", "remote_field": "hs_object_id"},
                {
                    "local_field": "tags",
                    "remote_field": "customer_tier",
                    "value_table": {"gold": "Gold", "silver": "Silver", "bronze": "Bronze"},
                },
            ],
        )
        object_setting_update(
            connection=connection,
            object_type=ObjectType.CONTACTS,
            mode=SyncMode.INPUT,
            mappings=[
                {"local_field": "email", "remote_field": "email"},
                {"local_field": "first_name", "remote_field": "firstname"},
                {"local_field": "last_name", "remote_field": "lastname"},
                {"local_field": "phone", "remote_field": "phone"},
                {"local_field": "title", "remote_field": "jobtitle"},
                {
                    "local_field": "role:champion",
                    "remote_field": "hs_buying_role",
                    "value_table": {"CHAMPION": "yes"},
                },
                {
                    "local_field": "role:sponsor",
                    "remote_field": "hs_buying_role",
                    "value_table": {"BUDGET_HOLDER": "yes", "DECISION_MAKER": "yes"},
                },
                {
                    "local_field": "role:end_user",
                    "remote_field": "hs_buying_role",
                    "value_table": {"END_USER": "yes"},
                },
            ],
        )
        object_setting_update(
            connection=connection,
            object_type=ObjectType.AGREEMENTS,
            mode=SyncMode.INPUT,
            options={
                "object": "deals",
                "won_only": True,
                "amount_format": "arr",
                "end": {"mode": "duration", "field": "contract_duration_months", "unit": "month"},
                "notice": {"mode": "duration", "field": "notice_period_months", "unit": "month"},
                "tacit": {"rule": "field", "field": "tacit_renewal", "value": "true"},
            },
            mappings=[
                {"local_field": "plan_name", "remote_field": "dealname"},
                {"local_field": "amount", "remote_field": "amount"},
                {"local_field": "start_date", "remote_field": "contract_start_date"},
            ],
        )
        object_setting_update(
            connection=connection,
            object_type=ObjectType.INTERACTIONS,
            mode=SyncMode.INPUT,
            options={"kinds": ["email", "meeting", "call", "note"]},
        )
    return connection, True
