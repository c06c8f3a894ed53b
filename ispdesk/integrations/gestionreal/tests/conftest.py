from collections.abc import Iterator

import pytest
from django.utils import translation

from ispdesk.testing.fakes.gestionreal import fake_gestionreal  # noqa: F401


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    # Messages are asserted in their English source text.
    with translation.override("en"):
        yield
