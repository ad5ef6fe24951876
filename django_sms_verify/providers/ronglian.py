"""Ronglian (容联云通讯) cloud communication REST API: template SMS.

Our own small client on a pooled ``requests`` session (one per connector), because the
official SDK prints the signing string (with the auth token) and the request body (with
the code) to standard output, and turns every failure, a timeout after the message may
have left included, into one generic error. See ``docs/ronglian.md``.

``POST {base}/2013-12-26/Accounts/{accountSID}/SMS/TemplateSMS?sig=SIG`` with
``SIG = upper(md5(accountSID + authToken + timestamp))`` and
``Authorization: base64(accountSID:timestamp)``, one timestamp (China Standard Time,
``yyyyMMddHHmmss``) for both.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
import requests
from django.utils.translation import gettext_lazy as _

from django_sms_verify.exceptions import PermanentProviderError, ProviderError, TransientProviderError
from django_sms_verify.providers.base import ConfigField, OutgoingMessage, Provider, SendResult
from django_sms_verify.providers.ronglian_errors import REASON_MESSAGES, SUCCESS, classify

logger = logging.getLogger("django_sms_verify.providers.ronglian")

DEFAULT_BASE_URL = "https://app.cloopen.com:8883"
API_VERSION = "2013-12-26"
TIMESTAMP_FORMAT = "%Y%m%d%H%M%S"
MAINLAND_CHINA = 86

try:
    CHINA_STANDARD_TIME: Any = ZoneInfo("Asia/Shanghai")
except ZoneInfoNotFoundError:  # no tz database (e.g. Windows without tzdata): UTC+8, no DST
    CHINA_STANDARD_TIME = timezone(timedelta(hours=8), "CST")

# accountSID goes into the URL path, appId into the body: Ronglian issues both as hex.
IDENTIFIER = re.compile(r"^[A-Za-z0-9]+$")
TEMPLATE_ID = re.compile(r"^[0-9]+$")
_MAX_STATUS_MSG = 200
_MIN_REDACTED_LENGTH = 4


class RonglianProvider(Provider):
    key = "ronglian"
    verbose_name = _("Ronglian cloud communication")
    fields = (
        ConfigField(
            "accountSID", _("Account SID"), help_text=_("The main account's ACCOUNT SID (console home page).")
        ),
        ConfigField("authToken", _("Auth token"), secret=True, help_text=_("The main account's AUTH TOKEN.")),
        ConfigField(
            "appId", _("App ID"), help_text=_("The APP ID of an application created in the console.")
        ),
    )
    uses_template_ids = True
    default_params = ["<<code>>", "<<ttl_minutes>>"]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # One session per connector: keep-alive connections are reused between sends.
        # No automatic retries: a retried POST could deliver the code twice.
        self._session = requests.Session()
        self._session.headers.update(
            {
                "Accept": "application/json",
                "Content-Type": "application/json;charset=utf-8",
                "User-Agent": "django-sms-verify",
            }
        )

    def close(self) -> None:
        self._session.close()

    # --- configuration ---------------------------------------------------------------

    @classmethod
    def validate_config(cls, values: Mapping[str, Any]) -> dict[str, str]:
        errors = super().validate_config(values)
        for name in ("accountSID", "appId"):
            value = values.get(name)
            if name not in errors and not IDENTIFIER.fullmatch(str(value).strip()):
                errors[name] = str(_("%(field)s may contain only letters and digits.") % {"field": name})
        return errors

    @classmethod
    def validate_template(cls, usage_type: str, template_id: str, params: Any) -> dict[str, str]:
        errors = super().validate_template(usage_type, template_id, params)
        if not errors and not TEMPLATE_ID.fullmatch(template_id.strip()):
            errors["template_id"] = str(_("A Ronglian templateId is a number, e.g. 1."))
        if params is not None and not _is_datas(params):
            errors["params"] = str(
                _('Ronglian params are a list of texts, e.g. ["<<code>>", "<<ttl_minutes>>"].')
            )
        return errors

    # --- sending ---------------------------------------------------------------------

    def send_sms(self, message: OutgoingMessage) -> SendResult:
        account_sid = self._credential("accountSID")
        auth_token = self._credential("authToken")
        datas = message.params if message.params is not None else []
        if not _is_datas(datas):
            raise self._misconfigured(_("The template's params must be a list of texts."))
        if not message.template_id.strip():
            raise self._misconfigured(_("The template has no templateId."))
        body = {
            "to": recipient(message.to),
            "appId": self._credential("appId"),
            "templateId": message.template_id.strip(),
            "datas": [str(item) for item in datas],
        }
        timestamp = datetime.now(CHINA_STANDARD_TIME).strftime(TIMESTAMP_FORMAT)
        url = "{base}/{version}/Accounts/{sid}/SMS/TemplateSMS".format(
            base=self.base_url or DEFAULT_BASE_URL, version=API_VERSION, sid=quote(account_sid, safe="")
        )
        http_status, answer = self._post(
            url,
            params={"sig": signature(account_sid, auth_token, timestamp)},
            headers={"Authorization": authorization(account_sid, timestamp)},
            body=json.dumps(body, ensure_ascii=False).encode("utf-8"),
        )
        return self._result(http_status, answer, redact=[auth_token, *body["datas"]])

    def _post(self, url: str, *, params: dict, headers: dict, body: bytes) -> tuple[int, dict[str, Any]]:
        """POST once: the HTTP status and the decoded answer when it has a ``statusCode``,
        else a transient error (network failures, HTTP errors, unreadable answers).

        Exception texts of ``requests`` carry the URL (with ``sig``): only their type is kept.
        """
        try:
            response = self._session.post(
                url, params=params, headers=headers, data=body, timeout=self.timeout
            )
        except requests.Timeout as exc:
            raise self._transient(
                _("Ronglian did not answer in time."), "timeout", type(exc).__name__
            ) from None
        except requests.ConnectionError as exc:
            raise self._transient(
                _("Ronglian could not be reached."), "unreachable", type(exc).__name__
            ) from None
        except requests.RequestException as exc:
            raise self._transient(
                _("The request to Ronglian failed."), "network", type(exc).__name__
            ) from None
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if isinstance(answer, dict) and answer.get("statusCode"):
            return response.status_code, answer
        if response.status_code >= 400:
            logger.warning("ronglian %s: HTTP %s without a status code", self.name, response.status_code)
            raise TransientProviderError(
                _("Ronglian answered HTTP %(status)s.") % {"status": response.status_code},
                provider=self.key,
                provider_code=f"http_{response.status_code}",
                status=response.status_code,
                reason="unavailable",
            )
        logger.warning("ronglian %s: HTTP %s with an unreadable answer", self.name, response.status_code)
        raise TransientProviderError(
            _("Ronglian sent an answer that could not be read."),
            provider=self.key,
            status=response.status_code,
            reason="bad_response",
        )

    def _result(self, http_status: int, answer: dict[str, Any], *, redact: Iterable[str]) -> SendResult:
        status_code = str(answer["statusCode"]).strip()
        if status_code == SUCCESS:
            details = answer.get("templateSMS") or answer.get("TemplateSMS") or {}
            sid = str(details.get("smsMessageSid") or "") if isinstance(details, dict) else ""
            if not sid:
                # Accepted all the same: failing over would send a second message.
                logger.warning("ronglian %s: accepted without smsMessageSid", self.name)
            return SendResult(
                provider_message_id=sid,
                status="sent",
                raw={"statusCode": status_code, "smsMessageSid": sid},
            )
        permanent, reason = classify(status_code)
        text = _clean_status_msg(answer.get("statusMsg"), redact)
        logger.warning(
            "ronglian %s refused (%s, %s): statusCode %s %s",
            self.name,
            "permanent" if permanent else "transient",
            reason,
            status_code,
            text,
        )
        message = _("%(meaning)s (Ronglian %(code)s: %(text)s)") % {
            "meaning": REASON_MESSAGES[reason],
            "code": status_code,
            "text": text or "-",
        }
        error_class = PermanentProviderError if permanent else TransientProviderError
        raise error_class(
            message,
            provider=self.key,
            provider_code=status_code,
            status=http_status,
            reason=reason,
        )

    # --- helpers ---------------------------------------------------------------------

    def _credential(self, name: str) -> str:
        value = str(self.secrets.get(name) or self.config.get(name) or "").strip()
        if not value:
            raise self._misconfigured(_("The connector has no %(field)s.") % {"field": name})
        return value

    def _misconfigured(self, message: Any) -> ProviderError:
        # Transient: another connector may be set up right.
        return TransientProviderError(message, provider=self.key, reason="misconfigured")

    def _transient(self, message: Any, reason: str, kind: str) -> ProviderError:
        logger.warning("ronglian %s: %s (%s)", self.name, reason, kind)
        return TransientProviderError(message, provider=self.key, provider_code=reason, reason=reason)


def signature(account_sid: str, auth_token: str, timestamp: str) -> str:
    """The ``sig`` query parameter: upper-case hex MD5 of SID + token + timestamp."""
    digest = hashlib.md5(f"{account_sid}{auth_token}{timestamp}".encode(), usedforsecurity=False)
    return digest.hexdigest().upper()


def authorization(account_sid: str, timestamp: str) -> str:
    """The ``Authorization`` header: base64 of ``accountSID:timestamp``."""
    return base64.b64encode(f"{account_sid}:{timestamp}".encode()).decode("ascii")


def recipient(e164: str) -> str:
    """The ``to`` Ronglian takes: the 11-digit national number for mainland China,
    ``00`` + country code + national number for any other country."""
    number = phonenumbers.parse(e164)
    national = phonenumbers.national_significant_number(number)
    if number.country_code == MAINLAND_CHINA:
        return national
    return f"00{number.country_code}{national}"


def _is_datas(value: Any) -> bool:
    return isinstance(value, list | tuple) and all(isinstance(item, str | int) for item in value)


def _clean_status_msg(value: Any, redact: Iterable[str]) -> str:
    """The platform's statusMsg, short, without anything we sent that must stay secret."""
    text = " ".join(str(value or "").split())
    for secret in redact:
        if secret and len(secret) >= _MIN_REDACTED_LENGTH:
            text = text.replace(secret, "***")
    return text[:_MAX_STATUS_MSG]
