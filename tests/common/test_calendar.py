from __future__ import annotations

import itertools
from datetime import date, timedelta

import pytest

from common.calendar import Compare, DateRange, bucket_count, bucket_start, buckets, compared_range
from common.db.dialect import INTERVALS, Interval


@pytest.mark.parametrize("interval", INTERVALS)
def test_buckets_cover_the_range_without_gaps_or_overlaps(interval: Interval) -> None:
    period = DateRange(date(2023, 12, 28), date(2025, 3, 2))
    result = buckets(interval, period)
    assert result[0].start == period.start
    assert result[-1].end == period.end
    for previous, current in itertools.pairwise(result):
        assert current.start == previous.end + timedelta(days=1)
        assert current.key == bucket_start(interval, current.start)
    assert len(result) == bucket_count(interval, period)
    covered = sum((bucket.end - bucket.start).days + 1 for bucket in result)
    assert covered == period.days


def test_iso_weeks_start_on_monday_across_a_year_end() -> None:
    result = buckets("week", DateRange(date(2024, 12, 25), date(2025, 1, 8)))
    assert [bucket.key for bucket in result] == [
        date(2024, 12, 23),
        date(2024, 12, 30),
        date(2025, 1, 6),
    ]
    assert (result[0].start, result[0].end) == (date(2024, 12, 25), date(2024, 12, 29))
    assert (result[-1].start, result[-1].end) == (date(2025, 1, 6), date(2025, 1, 8))


def test_quarters() -> None:
    result = buckets("quarter", DateRange(date(2024, 2, 15), date(2024, 11, 30)))
    assert [(b.key, b.start, b.end) for b in result] == [
        (date(2024, 1, 1), date(2024, 2, 15), date(2024, 3, 31)),
        (date(2024, 4, 1), date(2024, 4, 1), date(2024, 6, 30)),
        (date(2024, 7, 1), date(2024, 7, 1), date(2024, 9, 30)),
        (date(2024, 10, 1), date(2024, 10, 1), date(2024, 11, 30)),
    ]


def test_previous_period_has_the_same_length_just_before() -> None:
    period = DateRange(date(2025, 3, 1), date(2025, 3, 31))
    assert compared_range(Compare.previous_period, period) == DateRange(
        date(2025, 1, 29), date(2025, 2, 28)
    )


def test_previous_year_maps_leap_day_to_28_february() -> None:
    period = DateRange(date(2024, 2, 1), date(2024, 2, 29))
    assert compared_range(Compare.previous_year, period) == DateRange(
        date(2023, 2, 1), date(2023, 2, 28)
    )


def test_no_comparison() -> None:
    assert compared_range(Compare.none, DateRange(date(2025, 1, 1), date(2025, 1, 2))) is None
