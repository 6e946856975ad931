"""Secrets at rest: Fernet (AES-128-CBC + HMAC-SHA256) with keys from the environment.

``CRM_ENCRYPTION_KEYS`` is a comma-separated list of Fernet keys. The first encrypts; every key
decrypts, so a key is rotated by putting a new one first, running ``manage.py rotate_secrets``
and then dropping the old one (docs/operations.md). Ciphertext is stored as
``enc:v1:<token>``, so a value written before encryption existed (plaintext) is recognised and
still read, until the data migration or ``rotate_secrets`` encrypts it.

Development only: with DEBUG on and no keys, one key is derived from ``SECRET_KEY`` (and one
from each of ``SECRET_KEY_FALLBACKS``, for reading). With DEBUG off and no keys, the system
check ``security.E001`` stops ``migrate``/``runserver``/``check --deploy``, and any use raises
``ImproperlyConfigured``.

    python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"
"""

from __future__ import annotations

import base64
import functools
from collections import Counter

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.crypto import salted_hmac

PREFIX = "enc:v1:"
GENERATE_HINT = (
    'Generate one with: python -c "from cryptography.fernet import Fernet; '
    'print(Fernet.generate_key().decode())" and set CRM_ENCRYPTION_KEYS to it.'
)


class DecryptionError(Exception):
    """A stored value no configured key opens (a key dropped too early, or a damaged value)."""


def generate_key() -> str:
    return Fernet.generate_key().decode()


def derived_key(secret_key: str) -> str:
    """The development key for ``secret_key``: never for production (SECRET_KEY is not meant
    to be kept for as long as data it encrypts)."""
    digest = salted_hmac(
        "security.crypto.development-key", "fernet", secret=secret_key, algorithm="sha256"
    ).digest()
    return base64.urlsafe_b64encode(digest).decode()


def configured_keys() -> list[str]:
    """The keys in use, first one encrypting: ``CRM_ENCRYPTION_KEYS``, else (DEBUG settings
    only) the keys derived from SECRET_KEY and its fallbacks; [] when there are none."""
    keys = [key for key in getattr(settings, "CRM_ENCRYPTION_KEYS", []) or [] if key]
    if keys:
        return keys
    if getattr(settings, "CRM_ENCRYPTION_KEY_FROM_SECRET_KEY", False):
        secrets = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
        return [derived_key(secret) for secret in secrets if secret]
    return []


def invalid_keys(keys: list[str]) -> list[int]:
    """Positions (1-based) of the keys that are not valid Fernet keys."""
    bad = []
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except (ValueError, TypeError):
            bad.append(position)
    return bad


@functools.lru_cache(maxsize=8)
def _fernets(keys: tuple[str, ...]) -> tuple[Fernet, MultiFernet]:
    if not keys:
        raise ImproperlyConfigured(f"CRM_ENCRYPTION_KEYS is not set. {GENERATE_HINT}")
    try:
        fernets = [Fernet(key) for key in keys]
    except (ValueError, TypeError) as error:
        raise ImproperlyConfigured(
            f"CRM_ENCRYPTION_KEYS holds a key that is not a Fernet key. {GENERATE_HINT}"
        ) from error
    return fernets[0], MultiFernet(fernets)


def _current() -> tuple[Fernet, MultiFernet]:
    return _fernets(tuple(configured_keys()))


def is_encrypted(value: object) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def encrypt(plaintext: str) -> str:
    """``plaintext`` encrypted with the first key, marked ``enc:v1:``."""
    _primary, multi = _current()
    return PREFIX + multi.encrypt(plaintext.encode("utf-8")).decode("ascii")


def decrypt(value: str) -> str:
    """The plaintext of an ``enc:v1:`` value; raises DecryptionError when no key opens it."""
    if not is_encrypted(value):
        raise DecryptionError("The value is not encrypted.")
    _primary, multi = _current()
    try:
        return multi.decrypt(value[len(PREFIX) :].encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeError):
        # From None: the token is no business of a log reader.
        raise DecryptionError("No key in CRM_ENCRYPTION_KEYS decrypts a stored secret.") from None


def reveal(value: str) -> str:
    """The plaintext of a stored value: decrypted when encrypted, else as it is (a legacy
    plaintext value not encrypted yet)."""
    return decrypt(value) if is_encrypted(value) else value


def seal(value: str) -> str:
    """A value to store: encrypted unless it already is (or is empty)."""
    if not value or is_encrypted(value):
        return value
    return encrypt(value)


def is_current(value: str) -> bool:
    """Whether an encrypted value is encrypted with the first (current) key."""
    primary, _multi = _current()
    try:
        primary.decrypt(value[len(PREFIX) :].encode("ascii"))
    except (InvalidToken, UnicodeError):
        return False
    return True


def rotate(value: str) -> str:
    """A stored value re-encrypted with the first key (plaintext gets encrypted); raises
    DecryptionError when no key opens it."""
    if not is_encrypted(value):
        return encrypt(value) if value else value
    _primary, multi = _current()
    try:
        token = multi.rotate(value[len(PREFIX) :].encode("ascii"))
    except (InvalidToken, UnicodeError):
        raise DecryptionError("No key in CRM_ENCRYPTION_KEYS decrypts a stored secret.") from None
    return PREFIX + token.decode("ascii")


def refreshed(value: str, counts: Counter[str]) -> str:
    """A stored value under the first key, for rotation: one already under it stays as it is
    (so running rotation twice changes nothing), an older one is re-encrypted, a plaintext one
    encrypted; ``counts`` tallies "current", "rotated" and "encrypted"."""
    if not value:
        return value
    if not is_encrypted(value):
        counts["encrypted"] += 1
        return encrypt(value)
    if is_current(value):
        counts["current"] += 1
        return value
    counts["rotated"] += 1
    return rotate(value)
