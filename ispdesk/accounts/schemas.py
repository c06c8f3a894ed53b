from __future__ import annotations

from datetime import datetime
from typing import Annotated

from ninja import Schema
from pydantic import AfterValidator, Field

from ispdesk.accounts.models import Role


def _without_nul(value: str) -> str:
    # PostgreSQL cannot store NUL in text columns; refuse it here as a 422, not a 500 there.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


# Text that will be stored or looked up in the database.
Text = Annotated[str, AfterValidator(_without_nul)]


class LoginIn(Schema):
    username: Text = Field(min_length=1, max_length=150)
    password: str = Field(min_length=1, max_length=512)


class UserOut(Schema):
    id: int
    username: str
    first_name: str
    last_name: str
    email: str
    role: Role
    page_permissions: list[str]
    is_active: bool
    last_login: datetime | None


class UserCreateIn(Schema):
    username: Text = Field(min_length=1, max_length=150, pattern=r"^[\w.@+-]+$")
    password: str = Field(min_length=1, max_length=512)
    first_name: Text = Field("", max_length=150)
    last_name: Text = Field("", max_length=150)
    email: Text = Field("", max_length=254)
    role: Role = Role.OPERATOR
    page_permissions: list[str] = []
    is_active: bool = True


class UserUpdateIn(Schema):
    username: Text | None = Field(None, min_length=1, max_length=150, pattern=r"^[\w.@+-]+$")
    password: str | None = Field(None, min_length=1, max_length=512)
    first_name: Text | None = Field(None, max_length=150)
    last_name: Text | None = Field(None, max_length=150)
    email: Text | None = Field(None, max_length=254)
    role: Role | None = None
    page_permissions: list[str] | None = None
    is_active: bool | None = None


class TokenIn(Schema):
    name: Text = Field(min_length=1, max_length=100)


class TokenOut(Schema):
    id: int
    name: str
    prefix: str
    username: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class NewTokenOut(TokenOut):
    token: str
