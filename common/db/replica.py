"""Whether reads may go to the asynchronous read replica right now, or must go to the primary.

A replica is used while it keeps up: `SHOW REPLICA STATUS` on it reports its SQL thread
running and at most `READ_REPLICA_MAX_LAG_SECONDS` behind its source. A replica that lags
further, whose replication stopped (the lag reads NULL), that cannot be reached or that may not
be asked is bypassed: its readers read the primary, which is always correct, only busier. A
server that is no replica (no status row: a Galera node, or the primary itself) counts as
current. The answer is checked at most once per `check_interval` seconds per process, by one
request at a time; the others use the last answer meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import time

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

logger = logging.getLogger(__name__)

# MariaDB names the column for the master, MySQL 8.0.22+ for the source.
_LAG_COLUMNS = ("Seconds_Behind_Master", "Seconds_Behind_Source")


class ReplicaGuard:
    def __init__(
        self, engine: AsyncEngine, *, max_lag_seconds: float, check_interval: float = 1.0
    ) -> None:
        self._engine = engine
        self._max_lag = max_lag_seconds
        self._interval = check_interval
        self._usable = True
        self._checked_at = -float("inf")
        self._lock = asyncio.Lock()

    async def usable(self) -> bool:
        """True while the replica may serve reads (checked at most once per interval)."""
        if time.monotonic() - self._checked_at < self._interval or self._lock.locked():
            return self._usable
        async with self._lock:
            lag = await self.lag_seconds()
            usable = lag is not None and lag <= self._max_lag
            if usable != self._usable:
                logger.warning(
                    "read replica %s", "back in use" if usable else "bypassed",
                    extra={"lag_seconds": lag, "max_lag_seconds": self._max_lag},
                )  # fmt: skip
            self._usable, self._checked_at = usable, time.monotonic()
        return self._usable

    async def lag_seconds(self) -> float | None:
        """Seconds the replica trails its source; 0 for a server that is no replica; None when
        it is not replicating, cannot be reached or may not be asked."""
        if self._engine.dialect.name != "mysql":
            return 0.0
        try:
            async with self._engine.connect() as connection:
                row = (await connection.execute(text("SHOW REPLICA STATUS"))).mappings().first()
        except (SQLAlchemyError, OSError) as error:
            logger.warning("read replica status unavailable: %s", type(error).__name__)
            return None
        if row is None:
            return 0.0
        lag = next((row[column] for column in _LAG_COLUMNS if column in row), None)
        return None if lag is None else float(lag)
