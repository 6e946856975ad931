"""Absolute URLs of the public pages a signed token opens (unsubscribe, cart, satisfaction…)."""

from __future__ import annotations

from functools import lru_cache

from django.conf import settings
from django.urls import get_script_prefix, reverse

_TOKEN = "__token__"


@lru_cache(maxsize=64)
def _pattern(name: str, site_url: str, script_prefix: str) -> str:
    return site_url.rstrip("/") + reverse(name, args=[_TOKEN])


def link(name: str, token: str) -> str:
    """The absolute URL of the view ``name`` for a signed token: ``reverse`` once per process
    (a fan-out writes thousands of these), the token put in its place (signed tokens are
    URL-safe, so it needs no quoting)."""
    return _pattern(name, settings.SITE_URL, get_script_prefix()).replace(_TOKEN, token)
