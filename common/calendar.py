"""Store-day calendar arithmetic, the one copy: buckets (day, ISO week, month, quarter, year)
of reports and stock level series, the instant a store day starts, and compared ranges.

Bucket keys mirror `common.db.dialect.date_bucket` (which does the same in SQL), so buckets
the database returns can be matched to the full, zero-filled list built here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from common.db.dialect import Interval

MAX_BUCKETS = 5000


class Compare(StrEnum):
    none = "none"
    previous_period = "previous_period"
    previous_year = "previous_year"


@dataclass(frozen=True)
class DateRange:
    """Inclusive range of local dates."""

    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


@dataclass(frozen=True)
class Bucket:
    key: date  # first day of the calendar bucket, as `date_bucket` returns it
    start: date  # clipped to the report's range
    end: date


def bucket_start(interval: Interval, day: date) -> date:
    if interval == "day":
        return day
    if interval == "week":
        return day - timedelta(days=day.weekday())  # ISO weeks start on Monday
    if interval == "month":
        return day.replace(day=1)
    if interval == "quarter":
        return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    return date(day.year, 1, 1)


def next_bucket(interval: Interval, key: date) -> date:
    """The first day of the bucket after the one that starts on `key`."""
    if interval == "day":
        return key + timedelta(days=1)
    if interval == "week":
        return key + timedelta(days=7)
    months = {"month": 1, "quarter": 3, "year": 12}[interval]
    month_index = key.year * 12 + key.month - 1 + months
    return date(month_index // 12, month_index % 12 + 1, 1)


def bucket_count(interval: Interval, period: DateRange) -> int:
    """How many buckets `buckets` would return, without building them."""
    first, last = bucket_start(interval, period.start), bucket_start(interval, period.end)
    if interval == "day":
        return (last - first).days + 1
    if interval == "week":
        return (last - first).days // 7 + 1
    months = (last.year - first.year) * 12 + last.month - first.month
    return months // {"month": 1, "quarter": 3, "year": 12}[interval] + 1


def bucket_starts(interval: Interval, period: DateRange) -> list[date]:
    """The first days of every bucket that touches the range, in order."""
    starts = []
    key = bucket_start(interval, period.start)
    while key <= period.end:
        starts.append(key)
        key = next_bucket(interval, key)
    return starts


def buckets(interval: Interval, period: DateRange) -> list[Bucket]:
    """Every bucket that touches the range, in order, each clipped to the range."""
    return [
        Bucket(
            key=key,
            start=max(key, period.start),
            end=min(next_bucket(interval, key) - timedelta(days=1), period.end),
        )
        for key in bucket_starts(interval, period)
    ]


def local_midnight(day: date, timezone: ZoneInfo) -> datetime:
    """The instant (in UTC) the store day `day` starts."""
    return datetime.combine(day, time.min, tzinfo=timezone).astimezone(UTC)


def _one_year_earlier(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def compared_range(compare: Compare, period: DateRange) -> DateRange | None:
    """The range a report is compared with: the same number of days just before it, or the
    same dates one year earlier."""
    if compare is Compare.previous_period:
        end = period.start - timedelta(days=1)
        return DateRange(start=end - timedelta(days=period.days - 1), end=end)
    if compare is Compare.previous_year:
        return DateRange(start=_one_year_earlier(period.start), end=_one_year_earlier(period.end))
    return None
