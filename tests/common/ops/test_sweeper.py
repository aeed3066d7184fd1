"""The sweeper's housekeeping: expired idempotency records and ended login-throttle windows
are deleted in batches; live ones stay."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from common.config import Settings
from common.db import Database, utcnow
from common.models.identity import IdempotencyRecord, LoginThrottle
from common.ops.sweeper import sweep


async def test_sweep_deletes_expired_keys_and_ended_windows_only(
    isolated_database: Database, settings: Settings
) -> None:
    now = utcnow()
    window = timedelta(seconds=settings.login_failure_window_seconds)
    async with isolated_database.session_factory() as session:
        for index in range(5):
            expired = index < 3
            session.add(
                IdempotencyRecord(
                    scope="test",
                    idempotency_key=f"key-{index}",
                    request_hash="0" * 64,
                    status="done",
                    claim_token=f"token-{index}",
                    created_at=now - timedelta(days=2),
                    expires_at=now - timedelta(seconds=1) if expired else now + timedelta(hours=1),
                )
            )
            session.add(
                LoginThrottle(
                    scope="account",
                    subject_hash=f"{index:064d}",
                    failures=3,
                    window_started_at=now - window - timedelta(seconds=1)
                    if expired
                    else now - window + timedelta(minutes=1),
                )
            )
        await session.commit()

    # Batches of 2: the 3 expired rows of each kind take two batches.
    result = await sweep(isolated_database, batch_size=2, settings=settings)
    assert (result.idempotency_records_deleted, result.login_throttles_deleted) == (3, 3)

    async with isolated_database.session_factory() as session:
        keys = (await session.scalars(select(IdempotencyRecord.idempotency_key))).all()
        windows = (await session.scalars(select(LoginThrottle.subject_hash))).all()
    assert sorted(keys) == ["key-3", "key-4"]
    assert sorted(windows) == [f"{index:064d}" for index in (3, 4)]
    assert (await sweep(isolated_database, batch_size=2, settings=settings)).anything is False
