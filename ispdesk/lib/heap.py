"""Keeping a server process's startup objects out of the garbage collector's way.

Python's cyclic collector walks every tracked object in a full (oldest-generation)
collection: in a started ispdesk process that is ~110,000 objects (modules, models, URL
patterns, translations) and ~35 ms per collection, a few times a minute under load, in the
middle of whatever batch or request triggered it. Those objects live as long as the process,
so `settle()` moves them out of the collector's generations once, as the process starts.
"""

from __future__ import annotations

import gc

from django.conf import settings


def settle() -> None:
    """Load what the first request would load, then freeze everything alive (not under
    tests: a test process builds and drops whole applications and must collect them)."""
    if settings.TESTING:
        return
    from django.urls import get_resolver

    # The URL patterns import every view module: loaded now, they are frozen with the rest.
    _ = get_resolver().url_patterns
    gc.collect()
    gc.freeze()
