"""Language choice: Spanish unless the person chose otherwise with the language switch.

Django's LocaleMiddleware follows the browser's Accept-Language, so a help desk in Buenos
Aires would greet an operator whose browser happens to be in English in English. Pages here
follow the language cookie (set by the switch) and otherwise LANGUAGE_CODE. API clients may
still ask with Accept-Language.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from django.middleware.locale import LocaleMiddleware
from django.utils import translation


class DefaultLanguageMiddleware(LocaleMiddleware):
    def process_request(self, request: HttpRequest) -> None:
        supported = {code for code, _name in settings.LANGUAGES}
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
        if chosen not in supported:
            chosen = ""
        if not chosen and request.path.startswith("/api/"):
            asked = translation.get_language_from_request(request)
            chosen = asked if asked in supported else ""
        translation.activate(chosen or settings.LANGUAGE_CODE)
        request.LANGUAGE_CODE = translation.get_language()
