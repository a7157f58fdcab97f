"""Naming a record in the API: Decant's public id or the source system's external id."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_
from sqlalchemy.sql.elements import ColumnElement


def named_by(model: Any, key: str) -> ColumnElement[bool]:
    """The record whose public id or external id is ``key``. Public ids carry a type
    prefix and 96 random bits, so an external id never takes one by chance."""
    return or_(model.public_id == key, model.external_id == key)
