"""Parameters of the partition and backfill workloads, shared by both tools (stdlib only).

Every time-based definition gets an explicit end, and both tools are given the same fixed
"now" wherever they take one, so results do not depend on the day the benchmark runs. Ends are
exclusive, as both tools take them: the last partition is the last window that ends by ``end``.
"""

from __future__ import annotations

import datetime as dt

NOW = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
START = dt.date(2000, 1, 1)
DAY = dt.timedelta(days=1)

# partitions count/enumerate: daily (9,800 days) x static (50 keys) = 490,000 keys
DAILY_DAYS = 9_800
DAILY_END = START + DAILY_DAYS * DAY  # 2026-10-31: the last key is 2026-10-30
ITEMS_PREFIX = "item_"

# 4 dimensions: hourly 2000-01-01 00:00 .. 2009-12-31 23:00 (87,672 hours) x 2 x 3 x 4 tenants
HOURLY_START = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
HOURLY_END = dt.datetime(2010, 1, 1, tzinfo=dt.UTC)
HOURS = int((HOURLY_END - HOURLY_START).total_seconds()) // 3600
REGIONS = ["eu", "us"]
TIERS = ["bronze", "silver", "gold"]
DYNAMIC_NAME = "tenants"
TENANTS = ["tenant-a", "tenant-b", "tenant-c", "tenant-d"]
KEYS_4D = HOURS * len(REGIONS) * len(TIERS) * len(TENANTS)  # 2,104,128

# mapping: 1,000 consecutive downstream days from 2010-01-01, both definitions daily
MAPPING_DEF_END = dt.date(2030, 1, 1)
MAPPING_FIRST = dt.date(2010, 1, 1)

# backfill: a chain of 10 daily assets, 10,000 partitions from 2000-01-01 (the whole definition)
BACKFILL_ASSETS = 10


def items(n: int) -> list[str]:
    """The static dimension: ``item_00`` ... (``n`` keys)."""
    return [f"{ITEMS_PREFIX}{i:02d}" for i in range(n)]


def day_keys(first: dt.date, n: int) -> list[str]:
    """``n`` consecutive daily keys (``YYYY-MM-DD``) from ``first``."""
    return [(first + i * DAY).isoformat() for i in range(n)]


def backfill_end(partitions: int) -> dt.date:
    """The (exclusive) end of a daily definition of ``partitions`` days from :data:`START`."""
    return START + partitions * DAY
