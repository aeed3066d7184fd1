from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Schema(BaseModel):
    """Base of every request and response model: reads ORM objects, rejects unknown fields."""

    model_config = ConfigDict(from_attributes=True, extra="forbid", populate_by_name=True)
