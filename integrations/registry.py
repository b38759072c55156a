"""The explicit list of CRMs. Adding one is a line here and a module under integrations/crms/."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.utils.module_loading import import_string

if TYPE_CHECKING:
    from .base import Connector

CONNECTORS: dict[str, str] = {
    "hubspot": "integrations.crms.hubspot.HubSpot",
    "salesforce": "integrations.crms.salesforce.Salesforce",
    "sellsy": "integrations.crms.sellsy.Sellsy",
    "zoho": "integrations.crms.zoho.Zoho",
    "pipedrive": "integrations.crms.pipedrive.Pipedrive",
}


def connector_class(crm: str) -> type[Connector]:
    try:
        return import_string(CONNECTORS[crm])
    except KeyError as unknown:
        raise LookupError(
            f"No connector for CRM {crm!r}; known: {', '.join(sorted(CONNECTORS))}."
        ) from unknown
