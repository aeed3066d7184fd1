from __future__ import annotations

from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, GetJsonSchemaHandler, model_validator
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema


class Schema(BaseModel):
    """Base of every request and response model: reads ORM objects, rejects unknown fields."""

    model_config = ConfigDict(from_attributes=True, extra="forbid", populate_by_name=True)


class NoBody(Schema):
    """The payload of a write without a body (pay, confirm): its idempotency fingerprint is
    then the method and the path."""


class PatchSchema(Schema):
    """A PATCH body: an omitted field stays as it is; `null` clears a field named in
    `clearable`, and is refused for every other one.

    Fields are typed `X | None = None` so that "omitted" can be told apart, which would make
    the JSON schema call every field nullable; it documents `null` only where it is accepted.
    """

    clearable: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="after")
    def _refuse_nulls(self) -> Self:
        cleared = {
            name for name in self.model_fields_set - self.clearable if getattr(self, name) is None
        }
        if cleared:
            raise ValueError(f"{', '.join(sorted(cleared))} cannot be null")
        return self

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler(core_schema)
        target = handler.resolve_ref_schema(schema)
        for name, field in target.get("properties", {}).items():
            if name not in cls.clearable:
                _drop_null(field)
        return schema


def _drop_null(field: dict[str, Any]) -> None:
    variants = [v for v in field.get("anyOf", ()) if v != {"type": "null"}]
    if "anyOf" not in field or len(variants) == len(field["anyOf"]):
        return
    del field["anyOf"]
    if field.get("default", ...) is None:
        del field["default"]
    if len(variants) == 1:
        field.update(variants[0])
    else:
        field["anyOf"] = variants
