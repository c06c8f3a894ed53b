"""Shared by the Splynx sync's tests (push, status): the fake Splynx, the Splynx settings row
and operators linked to Splynx administrators.

The fixtures are used by importing them into a test module under their function names."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ispdesk.accounts.models import Role
from ispdesk.conftest import make_user
from ispdesk.operators.models import Operator
from ispdesk.pipeline.models import ExternalSystem, SystemKind
from ispdesk.testing.fakes.splynx import FakeSplynx, serving_fake_splynx

TICKETS = "admin/support/tickets"


@pytest.fixture(name="fake_splynx")
def fake_splynx_fixture() -> Iterator[FakeSplynx]:
    with serving_fake_splynx() as fake:
        yield fake


@pytest.fixture(name="_english", autouse=True)
def english_fixture(settings: Any) -> None:
    settings.LANGUAGE_CODE = "en"


def enabled_splynx(mappings: dict[str, Any]) -> ExternalSystem:
    """The Splynx settings row, enabled, with these mappings."""
    system, _created = ExternalSystem.objects.update_or_create(
        kind=SystemKind.SPLYNX,
        defaults={"enabled": True, "config": {"mappings": mappings}},
    )
    return system


def make_operator(username: str, person_id: int | None = None) -> Operator:
    user = make_user(username, Role.OPERATOR, first_name=username.title())
    return Operator.objects.create(user=user, person_id=person_id)
