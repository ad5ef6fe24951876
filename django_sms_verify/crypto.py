"""Codes and secrets: generation, keyed hashing, encryption at rest, constant-time compare."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.utils.crypto import salted_hmac

from django_sms_verify.conf import app_settings

CODE_SALT = "django_sms_verify.code"
FERNET_DERIVATION_SALT = b"django_sms_verify.fernet"


def generate_code(length: int) -> str:
    """A code of ``length`` decimal digits from the OS CSPRNG."""
    return "".join(secrets.choice("0123456789") for _ in range(length))


def code_digest(phone: str, usage_type: str, code: str) -> str:
    """Keyed hash of a code for ``phone`` and ``usage_type``.

    Bound to the phone and usage type (known before any row is read), so a check with the
    right code is one ``UPDATE ... WHERE code_digest = %s``. That compare runs in the
    database, not in constant time, which leaks nothing: nobody without SECRET_KEY can
    choose a code whose digest shares a prefix with the stored one.
    """
    return salted_hmac(CODE_SALT, f"{phone}|{usage_type}|{code}", algorithm="sha256").hexdigest()


def legacy_code_digest(verification_id: object, code: str) -> str:
    """The digest of codes stored before migration 0004 (bound to the verification's id);
    still accepted for codes pending at the upgrade."""
    return salted_hmac(CODE_SALT, f"{verification_id}:{code}", algorithm="sha256").hexdigest()


def digests_match(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def _derived_key(secret: str | bytes) -> bytes:
    raw = secret.encode() if isinstance(secret, str) else secret
    digest = hmac.new(raw, FERNET_DERIVATION_SALT, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest)


@lru_cache(maxsize=8)
def _fernet(keys: tuple[str | bytes, ...]) -> MultiFernet:
    return MultiFernet([Fernet(k) for k in keys])


def _current_fernet() -> MultiFernet:
    keys = tuple(app_settings.ENCRYPTION_KEYS)
    if not keys:
        secret_keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
        keys = tuple(_derived_key(k) for k in secret_keys)
    return _fernet(keys)


def encrypt(text: str) -> str:
    return _current_fernet().encrypt(text.encode()).decode()


def decrypt(token: str) -> str:
    """Decrypt ``token``; raises ``ValueError`` if no configured key opens it."""
    try:
        return _current_fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ValueError("cannot decrypt: the encryption keys have changed") from exc


def encrypt_json(data: dict) -> str:
    return encrypt(json.dumps(data, sort_keys=True)) if data else ""


def decrypt_json(token: str) -> dict:
    return json.loads(decrypt(token)) if token else {}
