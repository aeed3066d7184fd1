from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Schema(BaseModel):
    """Base of every request and response model: reads ORM objects, rejects unknown fields."""

    model_config = ConfigDict(from_attributes=True, extra="forbid", populate_by_name=True)


def refuse_nulls(schema: Schema, nullable: set[str]) -> None:
    """In a PATCH, an omitted field stays as it is; `null` clears it, where that makes sense."""
    cleared = {name for name in schema.model_fields_set - nullable if getattr(schema, name) is None}
    if cleared:
        raise ValueError(f"{', '.join(sorted(cleared))} cannot be null")
