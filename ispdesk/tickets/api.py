"""tickets API."""

from ninja import Router

router = Router(tags=["tickets"])
