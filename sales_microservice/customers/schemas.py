from __future__ import annotations

from pydantic import model_validator

from common.models.identity import Role
from common.schemas.base import Schema
from common.schemas.identity import EmailAddress, FullName, Password, Phone


class CustomerCreate(Schema):
    email: EmailAddress
    password: Password
    full_name: FullName
    phone: Phone | None = None
    role: Role = Role.customer


class CustomerUpdate(Schema):
    """Only the fields sent are changed. `role` and `is_active` are for admins; the balance
    changes only through the wallet."""

    email: EmailAddress | None = None
    full_name: FullName | None = None
    phone: Phone | None = None
    role: Role | None = None
    is_active: bool | None = None

    @model_validator(mode="after")
    def _required_fields_not_null(self) -> CustomerUpdate:
        # `phone: null` clears the phone; the other fields cannot be cleared.
        for name in ("email", "full_name", "role", "is_active"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self
