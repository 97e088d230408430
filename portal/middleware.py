"""Language: Chinese unless the person chose English with the switch (a cookie), whatever the browser says.

And a request id on every request and its log lines (RequestIdMiddleware).
"""

from django.conf import settings
from django.middleware.locale import LocaleMiddleware
from django.utils import translation

from .observability import REQUEST_ID_HEADER, request_id_new, request_id_sane, request_id_var


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


class RequestIdMiddleware:
    """Give every request an id: a sane incoming ``X-Request-ID`` (nginx's ``$request_id``) or a new one.

    The id goes into :data:`portal.observability.request_id_var`, which the logging filter adds to
    every record of the request (also the ``django.request`` line Django writes after the
    middleware returned; the id is cleared when the request finishes), and back in the response's
    ``X-Request-ID`` header. First in ``MIDDLEWARE``, so that redirects carry it too.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = request_id_sane(request.headers.get(REQUEST_ID_HEADER)) or request_id_new()
        request.request_id = request_id
        request_id_var.set(request_id)
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request_id
        return response
