"""A generic HTTP/SMS gateway configured with settings only (Kavenegar, Melipayamak, Ghasedak,
Twilio-like APIs), plus the HTTP helpers the Twilio and webhook backends share.

Settings: ``url`` (required), ``method`` (POST), ``headers``, one body of ``json`` or ``form``,
``params`` (query), ``success_status`` (list; default any 2xx), ``success_path`` with
``success_value``, ``id_path``, ``bounce_status`` (list of HTTP statuses meaning "no such
recipient"), ``timeout`` (10). Strings in ``url``, ``headers``, ``json``, ``form`` and ``params``
are Django templates over ``to``, ``text``, ``subject``, ``sender``, ``message_id``, ``purpose``,
``locale``, ``customer``, ``metadata`` and every other channel setting (``{{ api_key }}``).
"""

from __future__ import annotations

import contextvars
import functools
import json
import logging
from collections.abc import Collection, Mapping
from typing import Any

import httpx
from django.template import Context, Engine, Template, TemplateSyntaxError

from channels.backends.base import Backend, Outgoing, PermanentError, TransientError

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 10
_MISSING = object()


def is_transient_status(status: int) -> bool:
    """Whether an HTTP error status is worth retrying: overload, rate limit, server trouble."""
    return status in (408, 429) or status >= 500


# The secrets of the request in flight, masked out of httpx's own log records (it logs each
# request's full URL at INFO, and gateways like Kavenegar put the API key in the path).
_in_flight: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar(
    "channels_http_secrets", default=()
)


class RedactSecrets(logging.Filter):
    """Masks the in-flight request's secrets in records of the logger it is attached to."""

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = _in_flight.get()
        if secrets:
            text = record.getMessage()
            for value in secrets:
                text = text.replace(value, "••••••")
            record.msg, record.args = text, None
        return True


for _name in ("httpx",):
    if not any(isinstance(f, RedactSecrets) for f in logging.getLogger(_name).filters):
        logging.getLogger(_name).addFilter(RedactSecrets())


def request(backend: Backend, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """One HTTP request, with network failures raised as delivery errors."""
    token = _in_flight.set(tuple(backend.secret_texts()))
    try:
        return httpx.request(method, url, **kwargs)
    except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as error:
        raise TransientError(_describe(backend, f"{type(error).__name__}: {error}")) from error
    # A malformed URL or header, a redirect loop, a proxy refusing us: fix the settings.
    except (httpx.HTTPError, httpx.InvalidURL) as error:
        raise PermanentError(_describe(backend, f"{type(error).__name__}: {error}")) from error
    finally:
        _in_flight.reset(token)


def raise_for_status(
    backend: Backend,
    response: httpx.Response,
    *,
    ok: Collection[int] = (),
    detail: str = "",
    bounced: bool = False,
) -> None:
    """Raise the delivery error an unsuccessful answer calls for; ``ok`` replaces "any 2xx"."""
    status = response.status_code
    if (status in ok) if ok else (200 <= status < 300):
        return
    text = _describe(
        backend, f"HTTP {status} from {response.request.url.host}: {detail or snippet(response)}"
    )
    if is_transient_status(status):
        raise TransientError(text)
    raise PermanentError(text, bounced=bounced)


def snippet(response: httpx.Response, limit: int = 200) -> str:
    """The start of a response body on one line, for error texts (scrub it before use)."""
    text = " ".join(response.text.split())
    return text if len(text) <= limit else text[:limit] + "…"


def dig(data: Any, path: str) -> Any:
    """The value at a dotted path (``entries.0.messageid``) in parsed JSON, or ``_MISSING``."""
    for part in path.split("."):
        if isinstance(data, Mapping) and part in data:
            data = data[part]
        elif isinstance(data, list):
            try:
                data = data[int(part)]
            except (ValueError, IndexError):
                return _MISSING
        else:
            return _MISSING
    return data


def _describe(backend: Backend, text: str) -> str:
    return backend.scrub(f"Channel {backend.channel.name!r}: {text}")


@functools.cache
def _engine() -> Engine:
    # Not the project's HTML engine: these are URLs, headers and payloads, never HTML. The same
    # sandbox as message templates: no {% debug %} (it would print every secret), no files.
    from channels.rendering import sandboxed_engine

    return sandboxed_engine(autoescape=False, libraries={})


@functools.lru_cache(maxsize=512)
def _template(source: str) -> Template:
    return _engine().from_string(source)


def _same(found: Any, expected: Any) -> bool:
    """Loose equality, as settings typed in a form may say "200" or "true" for 200 or true."""

    def text(value: Any) -> str:
        return value if isinstance(value, str) else json.dumps(value)

    # By text, not ==: True == 1 in Python, but a provider's true is no status code 1.
    return text(found) == text(expected)


class HttpBackend(Backend):
    """One request per message; success, id and bounce are read from the answer as configured."""

    def send(self, message: Outgoing) -> str:
        method = str(self.setting("method") or "POST").upper()
        context = Context(self._context(message), autoescape=False)
        url = self._render(self.setting("url", required=True), context)
        kwargs: dict[str, Any] = {
            "headers": {
                name: str(value)
                for name, value in self._render(self._mapping("headers"), context).items()
            },
            "params": self._render(self._mapping("params"), context),
            "timeout": float(self.setting("timeout") or DEFAULT_TIMEOUT),
        }
        body_json = self.setting("json")
        form = self._mapping("form") if self.setting("form") is not None else None
        if body_json is not None and form is not None:
            raise PermanentError(self._describe("give either a 'json' or a 'form' body, not both"))
        if body_json is not None:
            if method == "GET":
                raise PermanentError(self._describe("a GET request cannot carry a 'json' body"))
            kwargs["json"] = self._render(body_json, context)
        elif form is not None:
            key = "params" if method == "GET" else "data"  # GET has no body: form goes in query
            kwargs[key] = {**kwargs.get(key, {}), **self._render(form, context)}

        response = request(self, method, url, **kwargs)
        raise_for_status(
            self,
            response,
            ok=self._statuses("success_status"),
            bounced=response.status_code in self._statuses("bounce_status"),
        )
        return self._provider_id(response)

    def _mapping(self, name: str) -> Mapping[str, Any]:
        value = self.setting(name) or {}
        if not isinstance(value, Mapping):
            raise PermanentError(self._describe(f"{name!r} must be a JSON object"))
        return value

    def _statuses(self, name: str) -> set[int]:
        value = self.setting(name) or []
        try:
            return {int(status) for status in ([value] if isinstance(value, int | str) else value)}
        except (TypeError, ValueError) as error:
            raise PermanentError(
                self._describe(f"{name!r} must be a list of HTTP statuses")
            ) from error

    def _context(self, message: Outgoing) -> dict[str, Any]:
        return {
            **self.settings,
            "to": message.to,
            "text": message.text,
            "subject": message.subject,
            "sender": self.channel.sender,
            "message_id": message.message_id,
            "purpose": message.purpose,
            "locale": message.locale,
            "customer": message.customer_public_id,
            "metadata": message.metadata,
        }

    def _render(self, value: Any, context: Context) -> Any:
        """Render the string leaves of ``value``; the structure (and JSON safety) stays."""
        if isinstance(value, str):
            if "{" not in value:
                return value
            try:
                return _template(value).render(context)
            except TemplateSyntaxError as error:
                raise PermanentError(self._describe(f"template error: {error}")) from error
        if isinstance(value, Mapping):
            return {key: self._render(item, context) for key, item in value.items()}
        if isinstance(value, list):
            return [self._render(item, context) for item in value]
        return value

    def _provider_id(self, response: httpx.Response) -> str:
        success_path, id_path = self.setting("success_path"), self.setting("id_path")
        if not success_path and not id_path:
            return ""
        try:
            data = response.json()
        except ValueError:
            data = _MISSING
        if success_path:
            found = dig(data, success_path)
            expected = self.setting("success_value", _MISSING)
            if found is _MISSING:
                ok = False
            else:
                ok = bool(found) if expected is _MISSING else _same(found, expected)
            if not ok:
                raise PermanentError(
                    self._describe(f"the answer says it failed: {snippet(response)}")
                )
        if not id_path:
            return ""
        provider_id = dig(data, id_path)
        if provider_id is _MISSING or provider_id is None:
            # Sent all the same (2xx and the success rule held): failing it would resend.
            logger.warning("channels.http.no_id", extra={"channel": self.channel.name})
            return ""
        return provider_id if isinstance(provider_id, str) else json.dumps(provider_id)

    def _describe(self, text: str) -> str:
        return _describe(self, text)
