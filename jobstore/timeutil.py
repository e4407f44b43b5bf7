"""Timestamps: one fixed-width ISO-8601 UTC text form, so string order is time order."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "as_aware",
    "as_utc",
    "format_timestamp",
    "normalize_timestamp",
    "now_timestamp",
    "parse_datetime",
]

#: The layout ``format_timestamp`` writes; ``datetime.fromisoformat`` then
#: refuses what the layout lets through (month 13, hour 24, February 30).
_STORED_FORM = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00", re.ASCII)


def as_utc(value: datetime) -> datetime:
    """Return ``value`` as an aware UTC datetime (a naive one is taken as UTC)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def as_aware(value: datetime) -> datetime:
    """``value`` made aware (a naive one is taken as UTC), its offset kept.

    For comparing instants: aware datetimes compare across offsets, and,
    unlike ``as_utc``, nothing overflows at the ends of the datetime range
    (``9999-12-31T23:59:59-01:00`` is later than any UTC datetime).
    """
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def format_timestamp(value: datetime) -> str:
    """The stored form: ``2026-11-28T10:10:50.123456+00:00`` (always 32 characters)."""
    return as_utc(value).isoformat(timespec="microseconds")


def now_timestamp() -> str:
    return format_timestamp(datetime.now(UTC))


def parse_datetime(value: Any) -> datetime | None:
    """Read a datetime or ISO-8601 string the way ``datetime.fromisoformat`` does.

    Returns an aware datetime (naive values taken as UTC), or None when
    ``value`` is not a timestamp.
    """
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
    return None


def normalize_timestamp(value: Any) -> str | None:
    """Turn an incoming timestamp into the stored form.

    Accepts None, a datetime, an ISO-8601 string, or the ``{"$date": epoch_ms}``
    object that TrueNAS's JSON dumps use. Raises ValueError for anything else.
    """
    if value is None:
        return None
    if type(value) is str and len(value) == 32 and _STORED_FORM.fullmatch(value):
        # Already the stored form, as in every export of a store: returned as
        # is once the parser accepts it. Formatting it again would reproduce
        # it at twice the cost: 3 of the ~30 us a job costs insert_many.
        try:
            datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"not an ISO-8601 timestamp: {value!r}") from None
        return value
    if isinstance(value, dict) and set(value) == {"$date"}:
        millis = value["$date"]
        if isinstance(millis, bool) or not isinstance(millis, int | float):
            raise ValueError("'$date' must be a number of milliseconds since the epoch")
        try:
            return format_timestamp(datetime.fromtimestamp(millis / 1000, UTC))
        except (OverflowError, OSError, ValueError) as exc:
            raise ValueError(f"'$date' out of range: {millis!r}") from exc
    parsed = parse_datetime(value)
    if parsed is None:
        raise ValueError(f"not an ISO-8601 timestamp: {value!r}")
    try:
        return format_timestamp(parsed)
    except OverflowError as exc:
        raise ValueError(f"timestamp out of range once converted to UTC: {value!r}") from exc
