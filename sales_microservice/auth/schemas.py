from __future__ import annotations

from common.schemas.base import Schema
from common.schemas.identity import EmailAddress, FullName, Password, Phone


class Registration(Schema):
    email: EmailAddress
    password: Password
    full_name: FullName
    phone: Phone | None = None
