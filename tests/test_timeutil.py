"""normalize_timestamp: its shortcut for the stored form answers as the full parse does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jobstore.timeutil import format_timestamp, normalize_timestamp, parse_datetime


def _by_parsing(value: str) -> str:
    """The answer without the shortcut: parse, convert to UTC, format."""
    parsed = parse_datetime(value)
    if parsed is None:
        raise ValueError("not an ISO-8601 timestamp")
    return format_timestamp(parsed)


def _outcome(function: object, value: str) -> str:
    try:
        return function(value)  # type: ignore[operator, no-any-return]
    except ValueError:
        return "<refused>"


@given(st.datetimes(timezones=st.just(UTC) | st.builds(timezone, st.timedeltas(
    min_value=timedelta(hours=-23), max_value=timedelta(hours=23)))))  # fmt: skip
def test_a_stored_timestamp_comes_back_unchanged(moment: datetime) -> None:
    try:
        stored = format_timestamp(moment)
    except OverflowError:  # year 1 or 9999 pushed out of range by the offset
        return
    assert normalize_timestamp(stored) == stored


# Strings of the stored form's length and layout, digit by digit, so impossible
# dates (month 13, February 30, hour 24) and near misses are drawn often.
_DIGIT = st.sampled_from("0123456789")
_ODD = st.sampled_from("0123456789T ,.:+-Z\u0663")


@given(
    st.lists(_DIGIT, min_size=24, max_size=24),
    st.lists(_ODD, min_size=5, max_size=5),
    st.lists(st.booleans(), min_size=5, max_size=5),
)
def test_near_stored_forms_are_read_as_the_full_parse_reads_them(
    digits: list[str], odd: list[str], use_odd: list[bool]
) -> None:
    # The five separators other than ':' at their places, each possibly replaced.
    layout = "dddd-dd-ddTdd:dd:dd.dddddd+dd:dd"
    separators = iter(zip(odd, use_odd, strict=True))
    digit = iter(digits)
    chars = []
    for kind in layout:
        if kind == "d":
            chars.append(next(digit))
        elif kind in "-T.+":
            other, replace = next(separators)
            chars.append(other if replace else kind)
        else:
            chars.append(kind)
    value = "".join(chars)
    assert len(value) == 32
    assert _outcome(normalize_timestamp, value) == _outcome(_by_parsing, value)


@pytest.mark.parametrize(
    "value",
    [
        "2026-02-30T10:00:00.000000+00:00",  # no such day
        "2026-13-01T10:00:00.000000+00:00",
        "2026-11-28T24:00:00.000000+00:00",
        "0000-11-28T10:00:00.000000+00:00",
        "2026-11-28T10:00:6\u0663.000000+00:00",  # a non-ASCII digit
    ],
)
def test_impossible_stored_forms_are_refused(value: str) -> None:
    with pytest.raises(ValueError):
        normalize_timestamp(value)


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        ("2026-11-28 10:00:00.000000+00:00", "2026-11-28T10:00:00.000000+00:00"),
        ("2026-11-28T10:00:00.000000-01:00", "2026-11-28T11:00:00.000000+00:00"),
        ("2026-W48-6T10:00:00.000000+00:00", "2026-11-28T10:00:00.000000+00:00"),
    ],
)
def test_other_forms_of_the_same_length_are_converted(value: str, stored: str) -> None:
    assert normalize_timestamp(value) == stored
