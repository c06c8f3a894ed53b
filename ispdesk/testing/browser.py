"""Browser contexts for the Chromium tests."""

from __future__ import annotations

from typing import Any

from django.conf import settings


def english_context(browser: Any, **options: Any) -> Any:
    """A context whose pages are in English: the language switch's cookie, as a person
    would set it (pages ignore the browser's Accept-Language and default to Spanish)."""
    context = browser.new_context(locale="en", **options)
    context.add_cookies(
        [
            {
                "name": settings.LANGUAGE_COOKIE_NAME,
                "value": "en",
                "domain": "127.0.0.1",
                "path": "/",
            }
        ]
    )
    return context
