"""Alibaba Cloud RPC signature, version 1 (HMAC-SHA1), as Dysmsapi 2017-05-25 checks it.

1. Percent-encode names and values as RFC 3986 over UTF-8: ``A-Z a-z 0-9 - _ . ~`` stay,
   everything else becomes ``%XX`` (so a space is ``%20`` and ``*`` is ``%2A``).
2. Canonical query: every parameter but ``Signature``, sorted by name, as
   ``enc(name)=enc(value)`` joined by ``&``.
3. String to sign: ``METHOD & enc("/") & enc(canonical query)``.
4. Signature: base64(HMAC-SHA1(key = access key secret + "&", string to sign)).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import quote

SIGNATURE_METHOD = "HMAC-SHA1"
SIGNATURE_VERSION = "1.0"


def percent_encode(value: str) -> str:
    """RFC 3986 encoding as the RPC signature wants it (``quote`` keeps only unreserved
    characters when ``safe`` is ``~``, and encodes a space as ``%20``)."""
    return quote(str(value), safe="~", encoding="utf-8")


def canonical_query(params: Mapping[str, str]) -> str:
    pairs = sorted((k, v) for k, v in params.items() if k != "Signature")
    return "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in pairs)


def string_to_sign(method: str, params: Mapping[str, str]) -> str:
    return f"{method.upper()}&{percent_encode('/')}&{percent_encode(canonical_query(params))}"


def signature(method: str, params: Mapping[str, str], access_key_secret: str) -> str:
    digest = hmac.new(
        f"{access_key_secret}&".encode(), string_to_sign(method, params).encode(), hashlib.sha1
    ).digest()
    return base64.b64encode(digest).decode()


def timestamp(now: datetime | None = None) -> str:
    """UTC in the ``YYYY-MM-DDThh:mm:ssZ`` form the API requires."""
    return (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def signed_params(
    method: str, action_params: Mapping[str, str], *, access_key_id: str, access_key_secret: str
) -> dict[str, str]:
    """The common RPC parameters plus ``action_params``, with a fresh nonce and ``Signature``."""
    params = {
        "Format": "JSON",
        "Version": "2017-05-25",
        "RegionId": "cn-hangzhou",
        "AccessKeyId": access_key_id,
        "SignatureMethod": SIGNATURE_METHOD,
        "SignatureVersion": SIGNATURE_VERSION,
        "SignatureNonce": uuid.uuid4().hex,  # the API refuses a nonce it has seen before
        "Timestamp": timestamp(),
        **{k: str(v) for k, v in action_params.items()},
    }
    params["Signature"] = signature(method, params, access_key_secret)
    return params
