"""The contract every connector passes. A CRM's test module subclasses `ConnectorContract`, names its
connector and registers vendor-shaped responses (recorded JSON under fixtures/<crm>/) in the hooks."""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

import pytest
import responses

from integrations.base import Connector, ConnectorError, Page, ReadRequest
from integrations.http import CrmHttp
from integrations.models import ObjectType


class StaticTokens:
    """A token source for tests: counts refreshes, hands out a new token after each."""

    def __init__(self) -> None:
        self.token = "token-1"
        self.refreshes = 0

    def access_token(self) -> str:
        return self.token

    def refresh(self) -> str:
        self.refreshes += 1
        self.token = f"token-{self.refreshes + 1}"
        return self.token


def read_all(connector: Connector, request: ReadRequest) -> tuple[list[str], int]:
    """Follow a listing to its end; returns the external ids and the number of pages."""
    ids: list[str] = []
    pages = 0
    cursor = request.cursor
    while True:
        page: Page = connector.read_page(
            ReadRequest(
                object_type=request.object_type,
                since=request.since,
                cursor=cursor,
                options=request.options,
                fields=request.fields,
                scope_ids=request.scope_ids,
                ids_only=request.ids_only,
            )
        )
        pages += 1
        ids.extend(record.external_id for record in page.records)
        if page.next_cursor is None:
            return ids, pages
        cursor = page.next_cursor
        assert pages < 100, "the connector never reached the last page"


class ConnectorContract:
    connector_class: ClassVar[type[Connector]]
    base_url: ClassVar[str] = "https://crm.test"
    since: ClassVar[dt.datetime] = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)

    # -- hooks --------------------------------------------------------------------------------------------
    def customer_options(self) -> dict[str, Any]:
        return {}

    def register_customer_pages(self, rsps: responses.RequestsMock) -> list[str]:
        """Register a customer listing of at least two pages (the last one may be short or empty but
        still announce a next page if the vendor does that); return every id expected, in order."""
        raise NotImplementedError

    def assert_since_was_sent(self, rsps: responses.RequestsMock) -> None:
        """After an incremental read from `self.since`, check the request carried it (filter, param...)."""
        raise NotImplementedError

    def register_customer_page_after_429(self, rsps: responses.RequestsMock) -> None:
        """First call answers 429 (or the vendor's quota error) with Retry-After: 1, then a one-page list."""
        raise NotImplementedError

    def register_customer_page_after_401(self, rsps: responses.RequestsMock) -> None:
        """First call answers the vendor's expired-token 401, then a one-page list."""
        raise NotImplementedError

    def register_customer_with_unknown_fields(self, rsps: responses.RequestsMock) -> str:
        """One record carrying fields the mapping does not know; returns its id."""
        raise NotImplementedError

    def register_customer_update(self, rsps: responses.RequestsMock, external_id: str) -> None:
        raise NotImplementedError

    def register_permanent_error(self, rsps: responses.RequestsMock) -> None:
        """A vendor validation error (bad field...): must surface as a permanent ConnectorError."""
        raise NotImplementedError

    # -- the contract --------------------------------------------------------------------------------------
    def make(self, tokens: StaticTokens | None = None, sleeps: list[float] | None = None) -> Connector:
        waits = sleeps if sleeps is not None else []
        http = CrmHttp(
            base_url=self.base_url, tokens=tokens or StaticTokens(), sleep=waits.append, max_inline_wait=30
        )
        return self.connector_class(http)

    def request(self, since: dt.datetime | None = None) -> ReadRequest:
        return ReadRequest(
            object_type=ObjectType.CUSTOMERS, since=since, cursor=None, options=self.customer_options()
        )

    @responses.activate
    def test_paging_follows_the_listing_to_its_last_page(self) -> None:
        expected = self.register_customer_pages(responses.mock)
        ids, pages = read_all(self.make(), self.request())
        assert ids == expected
        assert pages >= 2

    @responses.activate
    def test_an_incremental_read_sends_the_since_time(self) -> None:
        self.register_customer_pages(responses.mock)
        read_all(self.make(), self.request(since=self.since))
        self.assert_since_was_sent(responses.mock)

    @responses.activate
    def test_a_429_waits_for_retry_after_then_goes_on(self) -> None:
        self.register_customer_page_after_429(responses.mock)
        sleeps: list[float] = []
        ids, _ = read_all(self.make(sleeps=sleeps), self.request())
        assert ids
        assert sleeps and sleeps[0] >= 1

    @responses.activate
    def test_a_401_refreshes_the_token_once_then_goes_on(self) -> None:
        self.register_customer_page_after_401(responses.mock)
        tokens = StaticTokens()
        ids, _ = read_all(self.make(tokens=tokens), self.request())
        assert ids
        assert tokens.refreshes == 1
        assert responses.calls[-1].request.headers["Authorization"] == "Bearer token-2"

    @responses.activate
    def test_unknown_fields_are_ignored(self) -> None:
        external_id = self.register_customer_with_unknown_fields(responses.mock)
        ids, _ = read_all(self.make(), self.request())
        assert ids == [external_id]

    @responses.activate
    def test_a_write_returns_the_record_id(self) -> None:
        self.register_customer_update(responses.mock, "42")
        assert self.make().write(ObjectType.CUSTOMERS, "42", {"name": "Acme"}) == "42"

    @responses.activate
    def test_a_vendor_validation_error_is_permanent(self) -> None:
        self.register_permanent_error(responses.mock)
        with pytest.raises(ConnectorError) as error:
            read_all(self.make(), self.request())
        assert error.value.permanent
