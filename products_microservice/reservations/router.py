"""`/api/v1/inventory/reservations`: hold stock for a while, then sell it or let it go."""

from __future__ import annotations

from fastapi import APIRouter, status

from common.identity.access import AdminUser
from common.models.inventory import StockReservation
from common.web import SessionDep, SettingsDep, UnitOfWorkDep, problem_responses
from products_microservice.reservations import service
from products_microservice.reservations.schemas import (
    ReservationCreate,
    ReservationId,
    ReservationRead,
)

router = APIRouter(prefix="/inventory/reservations", tags=["reservations"])


@router.post(
    "",
    response_model=ReservationRead,
    status_code=status.HTTP_201_CREATED,
    summary="Hold stock of one or more products until `ttl_seconds` pass (all or nothing)",
    responses=problem_responses(401, 403, 409, 422),
)
async def create_reservation(
    body: ReservationCreate, admin: AdminUser, uow: UnitOfWorkDep
) -> StockReservation:
    return await uow.run(
        lambda session: service.create_reservation(session, body, actor=admin.actor)
    )


@router.get(
    "/{reservation_id}",
    response_model=ReservationRead,
    summary="A reservation and what it holds",
    responses=problem_responses(401, 403, 404, 422),
)
async def read_reservation(
    reservation_id: ReservationId, _admin: AdminUser, session: SessionDep
) -> StockReservation:
    return await service.get_reservation(session, reservation_id)


@router.post(
    "/{reservation_id}/confirm",
    response_model=ReservationRead,
    summary="Sell the held units: one sale per product at its current price",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def confirm_reservation(
    reservation_id: ReservationId, admin: AdminUser, uow: UnitOfWorkDep, settings: SettingsDep
) -> StockReservation:
    return await uow.run(
        lambda session: service.confirm(
            session, reservation_id, timezone=settings.timezone, actor=admin.actor
        )
    )


@router.post(
    "/{reservation_id}/release",
    response_model=ReservationRead,
    summary="Give the held units back now",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def release_reservation(
    reservation_id: ReservationId, _admin: AdminUser, uow: UnitOfWorkDep
) -> StockReservation:
    return await uow.run(lambda session: service.release(session, reservation_id))
