"""Who may act on `/customers/{customer_id}/...`: that customer, or an admin."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path

from common.errors import Forbidden
from common.security import CurrentUser, Principal

CustomerId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The customer's account id")]


async def get_self_or_admin(customer_id: CustomerId, principal: CurrentUser) -> Principal:
    if not principal.can_act_for(customer_id):
        raise Forbidden("Customers may only act on their own account.")
    return principal


SelfOrAdmin = Annotated[Principal, Depends(get_self_or_admin)]
