from __future__ import annotations

from datetime import datetime

from ninja import Schema
from pydantic import Field

from ispdesk.accounts.models import Role


class LoginIn(Schema):
    username: str = Field(min_length=1, max_length=150)
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
    username: str = Field(min_length=1, max_length=150, pattern=r"^[\w.@+-]+$")
    password: str = Field(min_length=1, max_length=512)
    first_name: str = Field("", max_length=150)
    last_name: str = Field("", max_length=150)
    email: str = Field("", max_length=254)
    role: Role = Role.OPERATOR
    page_permissions: list[str] = []
    is_active: bool = True


class UserUpdateIn(Schema):
    username: str | None = Field(None, min_length=1, max_length=150, pattern=r"^[\w.@+-]+$")
    password: str | None = Field(None, min_length=1, max_length=512)
    first_name: str | None = Field(None, max_length=150)
    last_name: str | None = Field(None, max_length=150)
    email: str | None = Field(None, max_length=254)
    role: Role | None = None
    page_permissions: list[str] | None = None
    is_active: bool | None = None


class TokenIn(Schema):
    name: str = Field(min_length=1, max_length=100)


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
