"""HubSpot's CRM search walked by keyset on a modification time (crm-apis.md §1.3, §7).

Each page restarts the search past the last modification time seen (or at it, for the ids not read yet)
rather than following the `after` offset alone: an offset shifts when a record read earlier changes during the walk, and search stops at 10,000
results (https://developers.hubspot.com/docs/api-reference/search/guide#limitations). Companies, contacts,
deals and engagements are all walked this way; only the stamp's property name differs (contacts keep
theirs in `lastmodifieddate`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

from ..base import ConnectorError
from ..mapping import ValueMappingError, parse_datetime

if TYPE_CHECKING:
    from ..http import CrmHttp

# https://developers.hubspot.com/docs/api-reference/search/guide#limitations: 200 a page, 10,000 a query.
SEARCH_LIMIT = 200
SEARCH_CAP = 10_000
# crm-apis.md §1.3: the sources disagree on the limits; stay within 5 groups and 18 filters in all. IN and
# NOT_IN lists are kept short too.
MAX_FILTERS = 18
MAX_NOT_IN = 100
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass
class SearchPosition:
    """Where a search resumes (part of the opaque page cursor, as JSON).

    Each page restarts the search past the last modification time seen (`floor`), or at it for the ids not
    returned yet (`skip`). When a whole page shares one millisecond (bulk imports), the records of
    that millisecond are walked by `hs_object_id` keyset (`tie`), then the walk goes on strictly after it,
    unless the counts showed nothing past that millisecond when its walk began."""

    floor: int | None = None  # epoch ms
    strict: bool = False
    skip: list[str] = field(default_factory=list)
    tie: bool = False
    last_id: str = ""
    after: int = 0
    from_floor: int | None = None  # entering a tie walk: the matches from the floor on, the floor included
    past_floor: bool = True  # in a tie walk: whether records past the floor matched when the walk began


@dataclass(frozen=True)
class Search:
    """One object's search: the filters that select its records and the property holding its stamp."""

    object_name: str
    stamp: str
    properties: list[str]
    filters: list[dict[str, Any]] = field(default_factory=list)

    def page(self, http: CrmHttp, position: SearchPosition) -> SearchPage:
        groups = position_groups(self.filters, position, self.stamp)
        body = http.post(
            f"/crm/v3/objects/{self.object_name}/search",
            {
                "filterGroups": groups,
                "sorts": [
                    {"propertyName": "hs_object_id" if position.tie else self.stamp, "direction": "ASCENDING"}
                ],
                "properties": list(dict.fromkeys([*self.properties, self.stamp])),
                "limit": SEARCH_LIMIT,
                "after": str(position.after),
            },
            idempotent=True,
        )
        raw = body.get("results", [])
        stamps = [ms for ms in (stamp_of(r, self.stamp) for r in raw) if ms is not None]
        total = int(body.get("total") or 0)
        # The matches from the floor on, the floor included: the split query left out the ids it skipped.
        from_floor = total + len(position.skip) if len(groups) > 1 else total
        return SearchPage(
            results=[r for r in raw if str(r["id"]) not in position.skip],
            following=next_position(position, raw, next_after(body), self.stamp, from_floor),
            total=total,
            newest=EPOCH + dt.timedelta(milliseconds=max(stamps)) if stamps else None,
        )


@dataclass(frozen=True)
class SearchPage:
    results: list[dict[str, Any]]  # the ones not returned before
    following: SearchPosition | None  # where the next page starts; None: the end
    total: int  # all the query's matches, past the 10,000 cap too
    newest: dt.datetime | None = None  # the newest stamp on the page, whatever the caller keeps of it


def position_groups(
    selection: list[dict[str, Any]], position: SearchPosition, stamp: str
) -> list[dict[str, list[dict[str, Any]]]]:
    """The query's filter groups. After a page, the next one starts past the last modification time seen,
    or at it for the ids not returned yet: two ORed groups, so no record of the last page comes back (with
    `GTE` and the ids skipped on our side, each page would re-read one record and bring 199 new ones)."""
    fits = len(position.skip) <= MAX_NOT_IN and 2 * (len(selection) + 2) <= MAX_FILTERS
    if position.floor is not None and position.skip and not (position.tie or position.strict) and fits:
        floor = str(position.floor)
        return [
            {"filters": [*selection, {"propertyName": stamp, "operator": "GT", "value": floor}]},
            {"filters": [
                *selection,
                {"propertyName": stamp, "operator": "EQ", "value": floor},
                {"propertyName": "hs_object_id", "operator": "NOT_IN", "values": position.skip},
            ]},
        ]  # fmt: skip
    return [{"filters": [*selection, *position_filters(position, stamp)]}]


def position_filters(position: SearchPosition, stamp: str) -> list[dict[str, Any]]:
    filters: list[dict[str, Any]] = []
    if position.floor is not None:
        operator = "EQ" if position.tie else ("GT" if position.strict else "GTE")
        filters.append({"propertyName": stamp, "operator": operator, "value": str(position.floor)})
    if position.tie and position.last_id:
        # Ids compare as strings: GT on the raw id leaves no gap (airbyte PR #79666, crm-apis.md §7).
        filters.append({"propertyName": "hs_object_id", "operator": "GT", "value": position.last_id})
    return filters


def next_position(
    position: SearchPosition, raw: list[dict[str, Any]], after: str | None, stamp: str, total: int
) -> SearchPosition | None:
    if position.tie and not position.last_id and position.from_floor is not None:
        # A tie walk's first page counts the floor's millisecond alone: as many as from the floor on, and
        # nothing lay past it (what changes meanwhile is newer than the cursor this run moves to).
        position = replace(position, past_floor=total != position.from_floor, from_floor=None)
    if after is None:
        # The end of this query; a walk through one crowded millisecond goes on strictly after it.
        if position.tie and position.past_floor:
            return SearchPosition(floor=position.floor, strict=True)
        return None
    stamps = [stamp_of(r, stamp) for r in raw]
    if not stamps or stamps[-1] is None:
        # A page may be empty yet announce more (airbyte PR #80745): follow the offset, within the cap.
        if int(after) + SEARCH_LIMIT > SEARCH_CAP:
            raise ConnectorError("HubSpot search announced results past its 10,000 cap; listing incomplete.")
        return SearchPosition(**{**asdict(position), "after": int(after)})
    if position.tie:
        return replace(position, last_id=str(raw[-1]["id"]), after=0)
    floor = stamps[-1]
    if floor == position.floor:
        # The whole page shares the floor's millisecond: walk that millisecond by id instead.
        skip = list(dict.fromkeys([*position.skip, *(str(r["id"]) for r in raw)]))
        return SearchPosition(floor=floor, tie=True, skip=skip, from_floor=total)
    return SearchPosition(
        floor=floor, skip=[str(r["id"]) for r, ms in zip(raw, stamps, strict=True) if ms == floor]
    )


def ms(moment: dt.datetime) -> int:
    """Epoch milliseconds, exactly (float timestamps can land one millisecond short)."""
    return (moment - EPOCH) // dt.timedelta(milliseconds=1)


def moment(value: Any) -> dt.datetime | None:
    """HubSpot dates come as ISO strings or epoch milliseconds in strings."""
    try:
        return parse_datetime(value)
    except ValueMappingError:
        return None


def stamp_of(raw: dict[str, Any], stamp: str) -> int | None:
    when = moment((raw.get("properties") or {}).get(stamp))
    return ms(when) if when else None


def next_after(body: dict[str, Any]) -> str | None:
    return ((body.get("paging") or {}).get("next") or {}).get("after")
