"""`/api/v1/webhooks` and `/api/v1/deliveries`: webhook subscriptions (admins only).

Deliveries are sent by the dispatcher of every replica (`common.events.dispatcher`), signed
with Standard Webhooks; these routes manage subscriptions and show what was sent."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from common.identity.access import AdminUser
from common.models.events import WebhookSubscription
from common.schemas import CursorDep, CursorPage, Page, PageDep
from common.web import SessionDep, SettingsDep, UnitOfWorkDep, problem_responses
from sales_microservice.webhooks import service
from sales_microservice.webhooks.schemas import (
    DeliveryId,
    DeliveryRead,
    WebhookCreate,
    WebhookCreated,
    WebhookId,
    WebhookRead,
    WebhookUpdate,
)

router = APIRouter(prefix="/webhooks", tags=["webhooks"])
deliveries_router = APIRouter(prefix="/deliveries", tags=["webhooks"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=WebhookCreated,
    summary="Subscribe a URL to events",
    responses=problem_responses(401, 403, 422),
)
async def create_webhook(
    body: WebhookCreate, _admin: AdminUser, uow: UnitOfWorkDep, settings: SettingsDep
) -> WebhookCreated:
    """The response holds the signing secret: it is shown only this once."""
    subscription = await uow.run(
        lambda session: service.create_webhook(
            session, body, allow_private=settings.webhook_allow_private
        )
    )
    return WebhookCreated.of(subscription)


@router.get(
    "",
    response_model=Page[WebhookRead],
    summary="List webhook subscriptions",
    responses=problem_responses(401, 403, 422),
)
async def list_webhooks(_admin: AdminUser, session: SessionDep, page: PageDep) -> Page[WebhookRead]:
    return await service.list_webhooks(session, page)


@router.get(
    "/{webhook_id}",
    response_model=WebhookRead,
    summary="Get a webhook subscription",
    responses=problem_responses(401, 403, 404, 422),
)
async def get_webhook(
    webhook_id: WebhookId, _admin: AdminUser, session: SessionDep
) -> WebhookSubscription:
    return await service.get_webhook(session, webhook_id)


@router.patch(
    "/{webhook_id}",
    response_model=WebhookRead,
    summary="Change, pause or resume a webhook subscription",
    responses=problem_responses(401, 403, 404, 422),
)
async def update_webhook(
    webhook_id: WebhookId,
    body: WebhookUpdate,
    _admin: AdminUser,
    uow: UnitOfWorkDep,
    settings: SettingsDep,
) -> WebhookSubscription:
    return await uow.run(
        lambda session: service.update_webhook(
            session, webhook_id, body, allow_private=settings.webhook_allow_private
        )
    )


@router.delete(
    "/{webhook_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a webhook subscription and its deliveries",
    responses=problem_responses(401, 403, 404, 422),
)
async def delete_webhook(webhook_id: WebhookId, _admin: AdminUser, uow: UnitOfWorkDep) -> Response:
    await uow.run(lambda session: service.delete_webhook(session, webhook_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{webhook_id}/test",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=DeliveryRead,
    summary="Send a test event to this subscription",
    responses=problem_responses(401, 403, 404, 422),
)
async def send_test_event(
    webhook_id: WebhookId, _admin: AdminUser, uow: UnitOfWorkDep
) -> DeliveryRead:
    """Queues a signed `webhook.test` event for this subscription; the next dispatcher pass
    sends it (follow it in the deliveries)."""
    return await uow.run(lambda session: service.send_test(session, webhook_id))


@router.get(
    "/{webhook_id}/deliveries",
    response_model=CursorPage[DeliveryRead],
    summary="List a subscription's deliveries",
    responses=problem_responses(401, 403, 404, 422),
)
async def list_deliveries(
    webhook_id: WebhookId, _admin: AdminUser, session: SessionDep, cursor: CursorDep
) -> CursorPage[DeliveryRead]:
    """Newest first: status, attempts, last response code and time, next attempt."""
    return await service.list_deliveries(session, webhook_id, cursor)


@deliveries_router.post(
    "/{delivery_id}/retry",
    response_model=DeliveryRead,
    summary="Retry a delivery now",
    responses=problem_responses(401, 403, 404, 422),
)
async def retry_delivery(
    delivery_id: DeliveryId, _admin: AdminUser, uow: UnitOfWorkDep
) -> DeliveryRead:
    return await uow.run(lambda session: service.retry_delivery(session, delivery_id))
