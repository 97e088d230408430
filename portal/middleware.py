"""Language: Chinese unless the person chose English with the switch (a cookie), whatever the browser says."""

from django.conf import settings
from django.middleware.locale import LocaleMiddleware
from django.utils import translation


class ChosenLanguageMiddleware(LocaleMiddleware):
    """Like LocaleMiddleware, but pages ignore Accept-Language: the portal speaks zh-hans until asked.

    The API keeps Django's negotiation so that other systems can ask for English.
    """

    def process_request(self, request):
        if request.path.startswith("/api/"):
            # API clients say what they want with Accept-Language (or the cookie).
            return super().process_request(request)
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        supported = dict(settings.LANGUAGES)
        language = chosen if chosen in supported else settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()
