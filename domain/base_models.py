"""The base of the domain's models: frozen, no field beyond those declared; and of those people fill in (`Input`),
which refuse the NUL character anywhere inside."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def refuse_nul(data: Any) -> Any:
    """Text with a NUL character cannot be stored (PostgreSQL refuses it): refuse it at the door."""
    if isinstance(data, str):
        if "\x00" in data:
            raise ValueError("text may not contain the NUL character (\\u0000)")
    elif isinstance(data, dict):
        for key, value in data.items():
            refuse_nul(key)
            refuse_nul(value)
    elif isinstance(data, list | tuple):
        for value in data:
            refuse_nul(value)
    return data


class Input(Frozen):
    """A model people fill in: validated strictly, NUL characters refused anywhere inside."""

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        return refuse_nul(data)
