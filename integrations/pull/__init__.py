"""Reading each object from the CRM into Skalin: mapping values, finding the row (link, then merge keys),
and writing through the domain services."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..models import ObjectSetting, ObjectType
from ..sync import RunContext
from .agreements import AgreementPull
from .contacts import ContactPull
from .customers import CustomerPull
from .interactions import InteractionPull


def _pull(cls: Any) -> Callable[[RunContext, ObjectSetting], None]:
    return lambda ctx, setting: cls(ctx, setting).run()


PULLERS: dict[str, Callable[[RunContext, ObjectSetting], None]] = {
    ObjectType.CUSTOMERS: _pull(CustomerPull),
    ObjectType.CONTACTS: _pull(ContactPull),
    ObjectType.AGREEMENTS: _pull(AgreementPull),
    ObjectType.INTERACTIONS: _pull(InteractionPull),
}
