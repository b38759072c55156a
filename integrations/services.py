"""Connections: connecting, reconnecting, configuring, disabling and deleting. No HTTP here except
through a connector."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from customers.models import CustomerSource
from workspaces.models import Workspace

from .base import Connector, Identity
from .http import CrmHttp
from .models import Connection, FieldDirection, FieldMapping, ObjectSetting, ObjectType, SyncMode
from .oauth import ConnectionTokens, OAuthResult
from .registry import connector_class


def api_base_url(connection: Connection) -> str:
    if connection.base_url:
        return connection.base_url
    conf = settings.CRM_SETTINGS.get(connection.crm, {})
    return conf.get("api_url") or conf.get("login_url", "")


def connector_for(connection: Connection) -> Connector:
    cls = connector_class(connection.crm)
    http = CrmHttp(
        base_url=api_base_url(connection),
        tokens=ConnectionTokens(connection, cls),
        auth_header=cls.auth_header,
    )
    return cls(http)


class _FixedTokens:
    """The tokens of a sign-in that has no connection row yet (to ask the CRM who we are)."""

    def __init__(self, access: str) -> None:
        self.access = access

    def access_token(self) -> str:
        return self.access

    def refresh(self) -> str:
        return self.access


def connection_connect(*, workspace: Workspace, crm: str, result: OAuthResult, user: Any) -> Connection:
    """Store a completed sign-in. Reconnecting swaps the credentials of the same connection (links and
    cursors stay); signing in to another CRM account than the connection's is refused."""
    cls = connector_class(crm)
    base = result.base_url or api_base_url(Connection(crm=crm))
    # Asked before the transaction: no database lock is held while the CRM answers.
    http = CrmHttp(
        base_url=base, tokens=_FixedTokens(result.tokens["access_token"]), auth_header=cls.auth_header
    )
    identity = cls(http).identity()
    with transaction.atomic():
        return _store_connection(workspace=workspace, crm=crm, result=result, user=user, identity=identity)


def _store_connection(
    *, workspace: Workspace, crm: str, result: OAuthResult, user: Any, identity: Identity
) -> Connection:
    cls = connector_class(crm)
    connection: Connection | None = None
    if result.connection_id:
        connection = (
            Connection.objects.select_for_update()
            .filter(pk=result.connection_id, workspace=workspace, crm=crm)
            .first()
        )
        if connection is None:
            raise ValidationError("The connection being reconnected no longer exists.")
        if connection.remote_account_id and connection.remote_account_id != identity.account_id:
            raise ValidationError(
                f"This {cls.label} connection belongs to account {connection.remote_account_id}; you signed in to "
                f"account {identity.account_id}. Sign in to the same account, or create a new connection."
            )
    else:
        connection = (
            Connection.objects.select_for_update()
            .filter(workspace=workspace, crm=crm, remote_account_id=identity.account_id)
            .first()
        )
    if connection is None:
        connection = Connection(workspace=workspace, crm=crm, created_by=user)
        connection.owns_customer_id = not Connection.objects.filter(
            workspace=workspace, owns_customer_id=True
        ).exists()
    connection.remote_account_id = identity.account_id
    connection.remote_user_email = identity.user_email
    connection.base_url = result.base_url
    tokens = dict(result.tokens)
    if not tokens.get("refresh_token") and connection.encrypted_tokens:
        # A reconnect that brought no refresh token (Zoho mints one on the first consent only) keeps the
        # working one of the same account.
        tokens["refresh_token"] = connection.tokens.get("refresh_token", "")
    connection.set_tokens(tokens, expires_at=result.expires_at)
    if connection.status in (Connection.Status.RECONNECT_NEEDED, ""):
        connection.status = Connection.Status.ACTIVE
    connection.last_error = ""
    connection.save()
    settings_create_defaults(connection=connection)
    return connection


def settings_create_defaults(*, connection: Connection) -> None:
    """Every object block exists, in its connector's default mode, with its default mapping."""
    cls = connector_class(connection.crm)
    for object_type, spec in cls.objects.items():
        setting, created = ObjectSetting.objects.get_or_create(
            connection=connection, object_type=object_type, defaults={"mode": spec.default_mode}
        )
        if created:
            FieldMapping.objects.bulk_create(
                FieldMapping(object_setting=setting, local_field=local, remote_field=remote)
                for local, remote in spec.default_mapping.items()
            )


def object_setting_update(
    *,
    connection: Connection,
    object_type: str,
    mode: str,
    options: dict[str, Any] | None = None,
    mappings: Iterable[dict[str, Any]] | None = None,
) -> ObjectSetting:
    """Change a block. A mode the CRM or object does not allow is refused with the allowed ones named."""
    cls = connector_class(connection.crm)
    allowed = cls.allowed_modes(ObjectType(object_type))
    if mode not in allowed:
        names = ", ".join(SyncMode(m).label for m in allowed)
        raise ValidationError({"mode": f"{cls.label} {object_type} can be: {names}."})
    setting, _ = ObjectSetting.objects.get_or_create(connection=connection, object_type=object_type)
    setting.mode = mode
    if options is not None:
        setting.options = options
    setting.save()
    if mappings is not None:
        setting.mappings.all().delete()
        FieldMapping.objects.bulk_create(
            FieldMapping(
                object_setting=setting,
                local_field=row["local_field"],
                remote_field=row["remote_field"],
                direction=row.get("direction") or _direction_for(mode),
                clearable=bool(row.get("clearable")),
                value_table=row.get("value_table") or {},
            )
            for row in mappings
        )
    return setting


def _direction_for(mode: str) -> str:
    """A newly mapped field takes its block's mode."""
    return {SyncMode.TWO_WAYS: FieldDirection.TWO_WAYS, SyncMode.OUTPUT: FieldDirection.OUTPUT}.get(
        SyncMode(mode), FieldDirection.INPUT
    )


def setting_config_hash(setting: ObjectSetting) -> str:
    """What the block's cursor depends on: selection, filter, merge keys, mapping. Any change re-reads."""
    mappings = sorted(
        (m.local_field, m.remote_field, m.direction, m.clearable, json.dumps(m.value_table, sort_keys=True))
        for m in setting.mappings.all()
    )
    # Where scores are pushed does not change what is read.
    options = {key: value for key, value in (setting.options or {}).items() if key != "data_back"}
    payload = json.dumps({"options": options, "mappings": mappings}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def connection_disable(*, connection: Connection) -> Connection:
    connection.status = Connection.Status.DISABLED
    connection.save(update_fields=["status", "updated_at"])
    return connection


def connection_enable(*, connection: Connection) -> Connection:
    if not connection.encrypted_tokens:
        raise ValidationError("Connect the CRM first.")
    connection.status = Connection.Status.ACTIVE
    connection.save(update_fields=["status", "updated_at"])
    return connection


@transaction.atomic
def connection_delete(*, connection: Connection) -> None:
    """Deleting a connection keeps every customer, its history and data; only the links to the CRM go."""
    customer_ids = connection.refs.filter(object_type=ObjectType.CUSTOMERS).values_list("local_id", flat=True)
    CustomerSource.objects.filter(customer_id__in=list(customer_ids), source=connection.crm).delete()
    connection.delete()
