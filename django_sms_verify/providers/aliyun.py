"""Alibaba Cloud SMS (Dysmsapi 2017-05-25): ``SendSms`` and ``QuerySendDetails``.

Plain HTTPS with ``requests`` (a pooled session per provider instance) and our own RPC
v1 signature (:mod:`.aliyun_signing`); see ``docs/aliyun.md`` for why not the SDK.
Requests are POSTed form-encoded, so codes and numbers stay out of URLs and access logs.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

import phonenumbers
import requests
from django.utils.translation import gettext_lazy as _

from django_sms_verify.exceptions import PermanentProviderError, ProviderError, TransientProviderError
from django_sms_verify.providers import aliyun_signing
from django_sms_verify.providers.base import ConfigField, OutgoingMessage, Provider, SendResult
from django_sms_verify.providers.status import StatusQuery, StatusReport

logger = logging.getLogger("django_sms_verify.providers.aliyun")

DEFAULT_ENDPOINT = "https://dysmsapi.aliyuncs.com"
# The API's dates (SendDate, ReceiveDate, report times) are China Standard Time, UTC+8,
# which has no daylight saving time.
CHINA_TIME = timezone(timedelta(hours=8), "CST")
API_DATETIME = "%Y-%m-%d %H:%M:%S"

# Error codes of the API, from Alibaba Cloud's "API错误码" page
# (https://help.aliyun.com/document_detail/101346.html); the table and the reasoning
# are in docs/aliyun.md. Permanent: the same message would fail again whatever we do.
PERMANENT_ERRORS: dict[str, tuple[str, Any]] = {
    "isv.MOBILE_NUMBER_ILLEGAL": ("invalid_number", _("The phone number is not valid.")),
    "isv.BLACK_KEY_CONTROL_LIMIT": ("blacklisted", _("The message was refused by a blacklist.")),
    "isv.SMS_SIGNATURE_ILLEGAL": ("signature_rejected", _("The SMS signature is not approved.")),
    "isv.SMS_SIGN_ILLEGAL": ("signature_rejected", _("The SMS signature is not approved.")),
    "isv.SIGN_STATE_ILLEGAL": ("signature_rejected", _("The SMS signature is not approved.")),
    "isv.SMS_SIGNATURE_SCENE_ILLEGAL": ("signature_rejected", _("The SMS signature is not approved.")),
    "isv.SMS_TEMPLATE_ILLEGAL": ("template_rejected", _("The SMS template is not approved.")),
    "isv.SMS_CONTENT_ILLEGAL": ("template_rejected", _("The SMS content was refused.")),
}
# Transient: another connector (or a later try) may succeed.
TRANSIENT_ERRORS: dict[str, str] = {
    # flow control and quotas
    "isv.BUSINESS_LIMIT_CONTROL": "throttled",
    "isv.DAY_LIMIT_CONTROL": "throttled",
    "isv.MONTH_LIMIT_CONTROL": "throttled",
    # the account: balance, activation, permissions
    "isv.AMOUNT_NOT_ENOUGH": "account",
    "isv.OUT_OF_SERVICE": "account",
    "isv.ACCOUNT_NOT_EXISTS": "account",
    "isv.ACCOUNT_ABNORMAL": "account",
    "isv.PRODUCT_UN_SUBSCRIPT": "account",
    "isv.PRODUCT_UNSUBSCRIBE": "account",
    "isp.RAM_PERMISSION_DENY": "account",
    "isv.DENY_IP_RANGE": "account",
    # this connector's template set-up (another connector's may be right)
    "isv.TEMPLATE_MISSING_PARAMETERS": "misconfigured",
    "isv.INVALID_JSON_PARAM": "misconfigured",
    "isv.PARAM_LENGTH_LIMIT": "misconfigured",
    "isv.PARAM_NOT_SUPPORT_URL": "misconfigured",
    "isv.INVALID_PARAMETERS": "misconfigured",
    "isv.DOMESTIC_NUMBER_NOT_SUPPORTED": "misconfigured",
    "isv.EXTEND_CODE_ERROR": "misconfigured",
    # credentials and signature (gateway errors, answered with a non-2xx status)
    "SignatureDoesNotMatch": "auth",
    "IncompleteSignature": "auth",
    "InvalidAccessKeyId.NotFound": "auth",
    "InvalidAccessKeyId.Inactive": "auth",
    "InvalidTimeStamp.Expired": "auth",
    "SignatureNonceUsed": "auth",
    "Forbidden.RAM": "auth",
    # the platform
    "isp.SYSTEM_ERROR": "unavailable",
    "isp.GATEWAY_ERROR": "unavailable",
    "isp.UNKNOWN": "unavailable",
    "ServiceUnavailable": "unavailable",
    "InternalError": "unavailable",
}

# QuerySendDetails SendStatus: 1 waiting for the carrier's receipt, 2 failed, 3 delivered.
SEND_STATUS_FAILED = 2
SEND_STATUS_DELIVERED = 3

# The gateway echoes its string to sign (with every parameter, the code included) in
# SignatureDoesNotMatch messages: nothing from there on is kept.
_ECHOED_REQUEST = re.compile(r"(server\s+)?string\s*to\s*sign.*", re.IGNORECASE | re.DOTALL)
_MIN_REDACTED_LENGTH = 4


class AliyunProvider(Provider):
    key = "aliyun"
    verbose_name = _("Alibaba Cloud SMS")
    fields = (
        ConfigField("accessKeyId", _("AccessKey ID")),
        ConfigField("accessKeySecret", _("AccessKey secret"), secret=True),
        ConfigField("signName", _("Signature name"), help_text=_("An approved SMS signature (SignName).")),
    )
    uses_template_ids = True
    default_params = {"code": "<<code>>"}
    status_query_window = timedelta(days=30)  # QuerySendDetails answers for 30 days

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # One session per connector: keep-alive connections are reused between sends.
        self._session = requests.Session()
        self._session.headers.update({"Accept": "application/json", "User-Agent": "django-sms-verify"})

    def close(self) -> None:
        self._session.close()

    @classmethod
    def validate_template(cls, usage_type: str, template_id: str, params: Any) -> dict[str, str]:
        errors = super().validate_template(usage_type, template_id, params)
        if params is not None and not isinstance(params, Mapping):
            errors["params"] = str(_('Alibaba Cloud SMS params are an object, e.g. {"code": "<<code>>"}.'))
        return errors

    @property
    def endpoint(self) -> str:
        return f"{self.base_url or DEFAULT_ENDPOINT}/"

    # --- sending ---------------------------------------------------------------------

    def send_sms(self, message: OutgoingMessage) -> SendResult:
        if not message.template_id:
            raise TransientProviderError(
                _("The template has no Alibaba Cloud TemplateCode."),
                provider=self.key,
                reason="misconfigured",
            )
        params = {
            "Action": "SendSms",
            "PhoneNumbers": api_phone_number(message.to),
            "SignName": self._credential("signName"),
            "TemplateCode": message.template_id,
        }
        template_param = template_param_json(message.params)
        if template_param:
            params["TemplateParam"] = template_param
        if message.message_id:
            params["OutId"] = message.message_id  # echoed as out_id in delivery reports
        body = self._call(params, redact=_strings_in(message.params))
        biz_id = str(body.get("BizId") or "")
        if not biz_id:
            raise TransientProviderError(
                _("Alibaba Cloud SMS accepted the message without a BizId."),
                provider=self.key,
                reason="bad_response",
            )
        return SendResult(
            provider_message_id=biz_id,
            status="sent",
            raw={"BizId": biz_id, "RequestId": body.get("RequestId", "")},
        )

    # --- reconciliation (QuerySendDetails) ---------------------------------------------

    def query_status(self, query: StatusQuery) -> StatusReport | None:
        """Ask ``QuerySendDetails`` for one message; None while no receipt has come."""
        body = self._call(
            {
                "Action": "QuerySendDetails",
                "PhoneNumber": api_phone_number(query.to),
                "BizId": query.provider_message_id,
                "SendDate": query.sent_at.astimezone(CHINA_TIME).strftime("%Y%m%d"),
                "PageSize": "10",
                "CurrentPage": "1",
            }
        )
        detail = _matching_detail(body, query.message_id)
        if detail is None:
            return None
        try:
            send_status = int(detail.get("SendStatus"))
        except (TypeError, ValueError):
            return None
        error_code = str(detail.get("ErrCode") or "")
        if send_status == SEND_STATUS_DELIVERED:
            return StatusReport("delivered", at=parse_api_datetime(detail.get("ReceiveDate")))
        if send_status == SEND_STATUS_FAILED:
            return StatusReport(
                "failed",
                error_code=error_code,
                error_message=str(_("Carrier receipt: %(code)s") % {"code": error_code or "?"}),
                at=parse_api_datetime(detail.get("ReceiveDate")),
            )
        return None

    # --- the RPC call ----------------------------------------------------------------

    def _credential(self, name: str) -> str:
        value = self.secrets.get(name) or self.config.get(name)
        if not value:
            raise TransientProviderError(
                _("The connector has no %(field)s.") % {"field": name},
                provider=self.key,
                reason="misconfigured",
            )
        return str(value)

    def _call(self, action_params: Mapping[str, str], *, redact: Iterable[str] = ()) -> dict[str, Any]:
        """POST one signed RPC request; the decoded answer when its Code is OK."""
        action = action_params["Action"]
        params = aliyun_signing.signed_params(
            "POST",
            action_params,
            access_key_id=self._credential("accessKeyId"),
            access_key_secret=self._credential("accessKeySecret"),
        )
        try:
            response = self._session.post(self.endpoint, data=params, timeout=self.timeout)
        except requests.Timeout as exc:
            raise TransientProviderError(
                _("Alibaba Cloud SMS did not answer in time."), provider=self.key, reason="timeout"
            ) from exc
        except requests.RequestException as exc:
            raise TransientProviderError(
                _("Could not reach Alibaba Cloud SMS (%(error)s).") % {"error": type(exc).__name__},
                provider=self.key,
                reason="network",
            ) from exc
        body = _json_object(response)
        code = str(body.get("Code") or "") if body is not None else ""
        logger.debug("%s via %s: HTTP %s, %s", action, self.name, response.status_code, code or "-")
        if response.ok and code == "OK":
            return body
        raise self._error(response.status_code, body, redact)

    def _error(self, http_status: int, body: dict[str, Any] | None, redact: Iterable[str]) -> ProviderError:
        code = str(body.get("Code") or "") if body is not None else ""
        text = clean_provider_text(body.get("Message") if body is not None else "", redact)
        detail = f"{code}: {text}" if text else code
        if code in PERMANENT_ERRORS:
            reason, label = PERMANENT_ERRORS[code]
            return PermanentProviderError(
                f"{label} ({detail})",
                provider=self.key,
                provider_code=code,
                status=http_status,
                reason=reason,
            )
        if not code:
            reason = "throttled" if http_status == 429 else "unavailable"
            return TransientProviderError(
                _("Alibaba Cloud SMS answered HTTP %(status)s.") % {"status": http_status},
                provider=self.key,
                provider_code=str(http_status),
                status=http_status,
                reason=reason,
            )
        reason = TRANSIENT_ERRORS.get(code)
        if reason is None:
            if code.startswith("Throttling"):
                reason = "throttled"
            elif http_status >= 500:
                reason = "unavailable"
            else:
                reason = "provider_error"
        return TransientProviderError(
            detail, provider=self.key, provider_code=code, status=http_status, reason=reason
        )


# --- formats ---------------------------------------------------------------------------


def api_phone_number(e164: str) -> str:
    """The number as ``PhoneNumbers`` takes it: mainland numbers as their 11 digits,
    others as country code + number without ``+`` (``+85291234567`` -> ``85291234567``)."""
    if e164.startswith("+86"):
        return e164[3:]
    return e164.lstrip("+")


def e164_from_api(number: object) -> str | None:
    """The E.164 form of a number in a push (SmsUp sends mainland numbers as 11 digits);
    None when it is no valid number."""
    text = re.sub(r"[\s-]", "", str(number or ""))
    if re.fullmatch(r"1\d{10}", text):
        text = "+86" + text
    elif text.startswith("00"):
        text = "+" + text[2:]
    elif not text.startswith("+"):
        text = "+" + text
    try:
        parsed = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def template_param_json(params: Any) -> str:
    """``TemplateParam``: a JSON object of strings (the API refuses ``{"code": 123456}``)."""
    if not params:
        return ""
    if not isinstance(params, Mapping):
        raise TransientProviderError(
            _("Alibaba Cloud SMS template params must be an object."),
            provider=AliyunProvider.key,
            reason="misconfigured",
        )
    values = {
        str(k): v if isinstance(v, str) else json.dumps(v, ensure_ascii=False) for k, v in params.items()
    }
    return json.dumps(values, ensure_ascii=False, separators=(",", ":"))


def parse_api_datetime(value: object) -> datetime | None:
    """``2019-01-08 16:44:13`` (China time) as an aware datetime; None if unreadable."""
    try:
        return datetime.strptime(str(value), API_DATETIME).replace(tzinfo=CHINA_TIME)
    except (TypeError, ValueError):
        return None


def clean_provider_text(text: object, redact: Iterable[str] = ()) -> str:
    """The provider's message, fit to store and show: without any echo of our request and
    without the values we sent (the code), shortened."""
    cleaned = _ECHOED_REQUEST.sub("", str(text or "")).strip()
    for value in redact:
        if len(value) >= _MIN_REDACTED_LENGTH:
            cleaned = cleaned.replace(value, "******")
    return cleaned[:300]


def _strings_in(params: Any) -> list[str]:
    if isinstance(params, Mapping):
        return [str(v) for v in params.values()]
    if isinstance(params, list | tuple):
        return [str(v) for v in params]
    return []


def _json_object(response: requests.Response) -> dict[str, Any] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _matching_detail(body: Mapping[str, Any], message_id: str) -> Mapping[str, Any] | None:
    """The QuerySendDetails record of our message (the BizId narrows it to one send;
    OutId, when the record has one, must be ours)."""
    container = body.get("SmsSendDetailDTOs") or {}
    details = container.get("SmsSendDetailDTO") if isinstance(container, Mapping) else None
    if isinstance(details, Mapping):
        details = [details]
    for detail in details or []:
        if not isinstance(detail, Mapping):
            continue
        out_id = str(detail.get("OutId") or "")
        if not out_id or out_id == message_id:
            return detail
    return None
