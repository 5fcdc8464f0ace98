"""A one-module Django site that knows nothing about genesys-pulse (``runserver``).

Settings, URLconf and view in one file: ``DJANGO_SETTINGS_MODULE=djsite``.
Touching this file makes ``runserver``'s autoreloader restart the server.
"""

from __future__ import annotations

import os

from django.http import HttpRequest, HttpResponse
from django.urls import path

DEBUG = True
SECRET_KEY = "test-only-not-a-secret"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "djsite"
INSTALLED_APPS: list[str] = []
DATABASES: dict[str, object] = {}
USE_TZ = True


def pid(request: HttpRequest) -> HttpResponse:
    return HttpResponse(f"{os.getpid()}\n", content_type="text/plain")


urlpatterns = [path("", pid)]
