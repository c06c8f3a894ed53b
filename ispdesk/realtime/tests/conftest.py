import pytest

from ispdesk.testing.live_asgi import live_asgi  # noqa: F401
from ispdesk.testing.redis import redis_server_url, redis_url  # noqa: F401

IN_MEMORY_LAYER = {
    "default": {"BACKEND": "channels.layers.InMemoryChannelLayer", "CONFIG": {"capacity": 100}}
}


@pytest.fixture(autouse=True)
def _in_memory_channel_layer(settings):  # type: ignore[no-untyped-def]
    """The in-memory layer unless a test asks for Redis, whatever REDIS_URL says."""
    settings.CHANNEL_LAYERS = IN_MEMORY_LAYER
