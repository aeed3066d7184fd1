"""`Idempotency-Key` for mutating endpoints: retries never repeat a side effect.

How it stays correct with many replicas, concurrent duplicates and crashes:

1. Claim: INSERT an `in_flight` record under the unique `(scope, key)` and commit at once.
   The scope names the operation and the caller, so two callers never share keys. Of any
   number of concurrent duplicates, the database lets exactly one insert win.
2. Work: the operation runs in its own transaction, and the same transaction marks the
   record `done` with the response, but only if it still owns the claim (`claim_token`).
   The side effect and "it happened" therefore commit together or not at all: a crash
   before the commit leaves no side effect and an `in_flight` record; a crash after it
   leaves both, and the next retry replays the stored response.
3. A duplicate that finds the record `done` replays the stored response; `in_flight` answers
   409 (`Retry-After: 1`); a different request under the same key answers 422.
4. Failure releases the key: when the operation raises (a 409 for insufficient funds, a
   validation problem, a lost database), its transaction rolled back, nothing happened,
   and the record is deleted so the client may retry with the same key. If the process
   died instead, the `in_flight` claim is taken over by the next request once it is older
   than `IDEMPOTENCY_LEASE_SECONDS`; the dead request can no longer complete it, since its
   completing UPDATE requires the claim token it no longer owns.

Records expire `IDEMPOTENCY_TTL_HOURS` (24) after they are created: an expired key is
treated as never seen, and its record is reused by the next request that sends it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from common.config import Settings
from common.db.types import utcnow
from common.db.unit_of_work import UnitOfWork
from common.errors import Conflict, InvalidInput
from common.models.identity import IdempotencyRecord, IdempotencyStatus
from common.web.dependencies import database_of, settings_of

logger = logging.getLogger(__name__)

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
# Claims that lose a race with a releasing request try again this many times.
_CLAIM_ATTEMPTS = 3


class IdempotencyKeyReused(InvalidInput):
    code = "idempotency_key_reused"
    title = "Idempotency key reused with another request"


class IdempotencyKeyInFlight(Conflict):
    code = "idempotency_key_in_flight"
    title = "A request with this idempotency key is still running"


@dataclass(frozen=True)
class _Claimed:
    record_id: int
    claim_token: str


@dataclass(frozen=True)
class _Stored:
    status: int
    body: Any
    headers: dict[str, str]


class Idempotency:
    """Per-request handle: `await idempotency.run(scope=..., caller_id=..., payload=...,
    work=lambda session: ..., status_code=201)` returns the JSON response of `work`'s result,
    a replay of it, or raises 409/422 as described in the module docstring. Without an
    `Idempotency-Key` header it simply runs the work in a unit of work."""

    def __init__(
        self, *, key: str | None, uow: UnitOfWork, settings: Settings, method: str, path: str
    ) -> None:
        self.key = key
        self._uow = uow
        self._settings = settings
        self._method = method
        self._path = path

    async def run(
        self,
        *,
        scope: str,
        caller_id: int,
        payload: BaseModel,
        work: Callable[[AsyncSession], Awaitable[BaseModel]],
        status_code: int,
        headers: Mapping[str, str] | None = None,
    ) -> JSONResponse:
        if self.key is None:
            result = await self._uow.run(work)
            return JSONResponse(result.model_dump(mode="json"), status_code, dict(headers or {}))

        record_scope = f"{scope}:user:{caller_id}"
        request_hash = request_fingerprint(self._method, self._path, payload)
        claim = await self._claim(record_scope, request_hash)
        if isinstance(claim, _Stored):
            return JSONResponse(
                claim.body, claim.status, {**claim.headers, REPLAYED_HEADER: "true"}
            )

        async def unit(session: AsyncSession) -> Any:
            result = await work(session)
            body = result.model_dump(mode="json")
            await _complete(session, claim, status=status_code, body=body, headers=headers)
            return body

        try:
            body = await self._uow.run(unit)
        except Exception:
            await self._release(claim)
            raise
        return JSONResponse(body, status_code, dict(headers or {}))

    async def _claim(self, scope: str, request_hash: str) -> _Claimed | _Stored:
        assert self.key is not None
        key = self.key
        settings = self._settings

        async def claim(session: AsyncSession) -> _Claimed | _Stored | None:
            return await _claim_once(
                session,
                scope=scope,
                key=key,
                request_hash=request_hash,
                now=utcnow(),
                settings=settings,
            )

        for _ in range(_CLAIM_ATTEMPTS):
            outcome = await self._uow.run(claim)
            if outcome is not None:
                return outcome
        # The key kept being released under us: the other request is failing and retrying.
        raise IdempotencyKeyInFlight(headers={"Retry-After": "1"})

    async def _release(self, claim: _Claimed) -> None:
        try:
            await self._uow.run(lambda session: _delete_claim(session, claim))
        except Exception:
            # The lease lets a later request take the claim over; do not mask the real error.
            logger.warning("could not release an idempotency claim", exc_info=True)


def request_fingerprint(method: str, path: str, payload: BaseModel) -> str:
    """What "the same request" means: method, path (with its ids) and the validated body,
    so formatting differences in the JSON do not matter but any change of meaning does.
    Canonical because validation is: money fields come out quantized to cents
    (`common.schemas.fields.DecimalText`), so `"5"`, `5` and `"5.00"` fingerprint alike."""
    canonical = json.dumps(
        {"method": method, "path": path, "body": payload.model_dump(mode="json")},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


async def _claim_once(
    session: AsyncSession,
    *,
    scope: str,
    key: str,
    request_hash: str,
    now: datetime,
    settings: Settings,
) -> _Claimed | _Stored | None:
    """Claim the key, or say why not. `None` means the record vanished between our failed
    INSERT and our read (its request failed and released it): the caller tries again."""
    token = uuid.uuid4().hex
    expires_at = now + timedelta(hours=settings.idempotency_ttl_hours)
    record = IdempotencyRecord(
        scope=scope,
        idempotency_key=key,
        request_hash=request_hash,
        status=IdempotencyStatus.in_flight.value,
        claim_token=token,
        created_at=now,
        expires_at=expires_at,
    )
    try:
        async with session.begin_nested():
            session.add(record)
    except IntegrityError:
        if record in session:
            session.expunge(record)
    else:
        return _Claimed(record_id=record.id, claim_token=token)

    # A plain read, not a locking one: locking reads after a duplicate-key error deadlock
    # with the other duplicates on MySQL. The only decision that needs atomicity, taking
    # over an expired or abandoned record, is a compare-and-set UPDATE below.
    existing = (
        await session.execute(
            select(IdempotencyRecord).where(
                IdempotencyRecord.scope == scope, IdempotencyRecord.idempotency_key == key
            )
        )
    ).scalar_one_or_none()
    if existing is None:
        return None
    expired = existing.expires_at <= now
    if not expired and existing.request_hash != request_hash:
        raise IdempotencyKeyReused(
            f"This {IDEMPOTENCY_HEADER} was used for a different request; use a new key."
        )
    if not expired and existing.status == IdempotencyStatus.done:
        return _Stored(
            status=existing.response_status or 200,
            body=json.loads(existing.response_body or "null"),
            headers=json.loads(existing.response_headers or "{}"),
        )
    abandoned_before = now - timedelta(seconds=settings.idempotency_lease_seconds)
    taken = await session.execute(
        update(IdempotencyRecord)
        .where(
            IdempotencyRecord.id == existing.id,
            IdempotencyRecord.claim_token == existing.claim_token,
            or_(
                IdempotencyRecord.expires_at <= now,
                (IdempotencyRecord.status == IdempotencyStatus.in_flight.value)
                & (IdempotencyRecord.created_at <= abandoned_before),
            ),
        )
        .values(
            request_hash=request_hash,
            status=IdempotencyStatus.in_flight.value,
            claim_token=token,
            response_status=None,
            response_body=None,
            response_headers=None,
            created_at=now,
            expires_at=expires_at,
        )
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount == 1:  # type: ignore[attr-defined]
        return _Claimed(record_id=existing.id, claim_token=token)
    raise IdempotencyKeyInFlight(
        f"A request with this {IDEMPOTENCY_HEADER} is still being processed; retry shortly.",
        headers={"Retry-After": "1"},
    )


async def _complete(
    session: AsyncSession,
    claim: _Claimed,
    *,
    status: int,
    body: Any,
    headers: Mapping[str, str] | None,
) -> None:
    result = await session.execute(
        update(IdempotencyRecord)
        .where(
            IdempotencyRecord.id == claim.record_id,
            IdempotencyRecord.claim_token == claim.claim_token,
            IdempotencyRecord.status == IdempotencyStatus.in_flight.value,
        )
        .values(
            status=IdempotencyStatus.done.value,
            response_status=status,
            response_body=json.dumps(body),
            response_headers=json.dumps(dict(headers or {})),
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        # Our lease ran out and another request took the key over: raising rolls our work
        # back, so the side effect happens once, in that request.
        raise IdempotencyKeyInFlight(
            f"This {IDEMPOTENCY_HEADER} was taken over by a retry; see its outcome.",
            headers={"Retry-After": "1"},
        )


async def _delete_claim(session: AsyncSession, claim: _Claimed) -> None:
    await session.execute(
        delete(IdempotencyRecord).where(
            IdempotencyRecord.id == claim.record_id,
            IdempotencyRecord.claim_token == claim.claim_token,
            IdempotencyRecord.status == IdempotencyStatus.in_flight.value,
        )
    )


async def get_idempotency(
    request: Request,
    key: Annotated[
        str | None,
        Header(
            alias=IDEMPOTENCY_HEADER,
            min_length=1,
            max_length=255,
            pattern=r"^[\x21-\x7e]+$",
            description="Any unique printable ASCII string (a UUID is ideal). Retrying with "
            "the same key and body replays the first response without repeating the "
            "operation; keys expire after 24 hours.",
        ),
    ] = None,
) -> Idempotency:
    return Idempotency(
        key=key,
        uow=UnitOfWork(database_of(request)),
        settings=settings_of(request),
        method=request.method,
        path=request.url.path,
    )


IdempotencyDep = Annotated[Idempotency, Depends(get_idempotency)]
