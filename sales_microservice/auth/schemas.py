from __future__ import annotations

from pydantic import ConfigDict

from common.identity.schemas import EmailAddress, FullName, Password, Phone
from common.schemas.base import Schema


class Registration(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "email": "ada@example.com",
                    "password": "correct horse battery staple",
                    "full_name": "Ada Lovelace",
                    "phone": "+44 20 7946 0958",
                }
            ]
        }
    )

    email: EmailAddress
    password: Password
    full_name: FullName
    phone: Phone | None = None
