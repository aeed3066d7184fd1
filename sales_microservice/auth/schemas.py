from __future__ import annotations

from common.identity.schemas import EmailAddress, FullName, Password, Phone
from common.schemas.base import Schema


class Registration(Schema):
    email: EmailAddress
    password: Password
    full_name: FullName
    phone: Phone | None = None
