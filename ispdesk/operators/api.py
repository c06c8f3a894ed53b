"""operators API."""

from ninja import Router

router = Router(tags=["operators"])
