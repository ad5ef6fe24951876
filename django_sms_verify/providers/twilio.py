"""Twilio: SMS through Programmable Messaging, voice codes through Programmable Voice.

Built on the official ``twilio`` library. One ``Client`` (with one pooled HTTP session)
per provider instance; the delivery layer keeps an instance per connector, so HTTP
connections are reused between sends. ``baseUrl`` replaces the API host (tests, gateways).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import requests
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from django_sms_verify.exceptions import ProviderError, TransientProviderError
from django_sms_verify.providers.base import ConfigField, OutgoingMessage, Provider, SendResult
from django_sms_verify.providers.twilio_errors import PROVIDER, from_rest_error
from django_sms_verify.providers.twilio_voice import build_twiml

ACCOUNT_SID = re.compile(r"^AC[0-9a-fA-F]{32}$")
MESSAGING_SERVICE_SID = re.compile(r"^MG[0-9a-fA-F]{32}$")
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
# Alphanumeric sender IDs: up to 11 letters, digits and spaces, at least one letter.
ALPHANUMERIC_SENDER = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$")

# Twilio's own statuses in a create answer that already say how the send ended.
FINAL_STATUSES = {"failed": "failed", "undelivered": "undelivered", "delivered": "delivered"}


class TwilioProvider(Provider):
    key = "twilio"
    verbose_name = "Twilio"
    supports_voice = True
    fields = (
        ConfigField("accountSID", _("Account SID"), help_text=_("Starts with AC.")),
        ConfigField("authToken", _("Auth token"), secret=True),
        ConfigField(
            "fromMessagingServiceSID",
            _("Messaging Service SID"),
            required=False,
            help_text=_("Starts with MG. Used for SMS when set."),
        ),
        ConfigField(
            "fromNumber",
            _("From number"),
            required=False,
            help_text=_("Your Twilio number in E.164 format, e.g. +14155550100. Needed for voice calls."),
        ),
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.account_sid = str(self.config.get("accountSID") or "").strip()
        self.messaging_service_sid = str(self.config.get("fromMessagingServiceSID") or "").strip()
        self.from_number = str(self.config.get("fromNumber") or "").strip()
        auth_token = str(self.secrets.get("authToken") or "")
        self._has_credentials = bool(self.account_sid and auth_token)
        # A TWILIO_REGION/TWILIO_EDGE environment would rewrite the host of a baseUrl.
        environment = {"TWILIO_REGION": "", "TWILIO_EDGE": ""} if self.base_url else None
        self.client = Client(
            username=self.account_sid or None,
            password=auth_token or None,
            account_sid=self.account_sid or None,
            http_client=TwilioHttpClient(timeout=self.timeout),
            environment=environment,
        )
        if self.base_url:
            self.client.api.base_url = self.base_url

    # --- configuration ---------------------------------------------------------------

    @classmethod
    def validate_config(cls, values: Mapping[str, Any]) -> dict[str, str]:
        errors = super().validate_config(values)
        sid = str(values.get("accountSID") or "").strip()
        service = str(values.get("fromMessagingServiceSID") or "").strip()
        number = str(values.get("fromNumber") or "").strip()
        if sid and "accountSID" not in errors and not ACCOUNT_SID.match(sid):
            errors["accountSID"] = str(_("An Account SID is AC followed by 32 hexadecimal digits."))
        if service and not MESSAGING_SERVICE_SID.match(service):
            errors["fromMessagingServiceSID"] = str(
                _("A Messaging Service SID is MG followed by 32 hexadecimal digits.")
            )
        if number and not (E164.match(number) or ALPHANUMERIC_SENDER.match(number)):
            errors["fromNumber"] = str(
                _("Enter the number in E.164 format (e.g. +14155550100) or an alphanumeric sender ID.")
            )
        if not service and not number:
            errors["fromNumber"] = str(_("Set fromMessagingServiceSID, fromNumber or both."))
        return errors

    # --- sending ---------------------------------------------------------------------

    def send_sms(self, message: OutgoingMessage) -> SendResult:
        params: dict[str, Any] = {"to": message.to, "body": message.text}
        # A Messaging Service picks the sender from its pool; otherwise our number sends.
        if self.messaging_service_sid:
            params["messaging_service_sid"] = self.messaging_service_sid
        elif self.from_number:
            params["from_"] = self.from_number
        else:
            raise self._misconfigured(_("The connector has no Messaging Service SID and no From number."))
        callback = self.status_callback_url(message)
        if callback:
            params["status_callback"] = callback
        created = self._call(lambda: self.client.messages.create(**params))
        return self._result(created)

    def place_call(self, message: OutgoingMessage) -> SendResult:
        if not E164.match(self.from_number):
            # Transient: this connector cannot call, another one may.
            raise self._misconfigured(_("Voice calls need a From number in E.164 format."))
        params: dict[str, Any] = {
            "to": message.to,
            "from_": self.from_number,
            "twiml": build_twiml(message.text, message.language, code=message.code),
        }
        callback = self.status_callback_url(message)
        if callback:
            params["status_callback"] = callback
        created = self._call(lambda: self.client.calls.create(**params))
        return self._result(created)

    def close(self) -> None:
        session = getattr(self.client.http_client, "session", None)
        if session is not None:
            session.close()

    def status_callback_url(self, message: OutgoingMessage) -> str:
        """Absolute URL of this connector's status webhook, or "" when our origin is unknown."""
        if not message.public_origin:
            return ""
        try:
            path = reverse("sms_verify:twilio-status", kwargs={"connector_name": self.name})
        except NoReverseMatch:  # the host did not mount our URLs
            return ""
        return message.public_origin.rstrip("/") + path

    # --- helpers ---------------------------------------------------------------------

    def _call(self, create):
        # Checked here, not left to the library, which would fall back to TWILIO_* variables.
        if not self._has_credentials:
            raise self._misconfigured(_("The connector has no Account SID or auth token."))
        try:
            return create()
        except TwilioRestException as exc:
            raise from_rest_error(exc.status, exc.code, str(exc.msg or "")) from exc
        except TwilioServiceException as exc:
            raise from_rest_error(exc.status, exc.code, str(exc.title or "")) from exc
        except requests.Timeout as exc:
            raise TransientProviderError(
                _("Twilio did not answer in time."), provider=PROVIDER, reason="timeout"
            ) from exc
        except (requests.RequestException, TwilioException) as exc:
            raise TransientProviderError(
                _("Twilio could not be reached."), provider=PROVIDER, reason="unavailable"
            ) from exc

    def _result(self, created) -> SendResult:
        twilio_status = str(getattr(created, "status", "") or "")
        raw = {"sid": created.sid, "status": twilio_status}
        return SendResult(
            provider_message_id=created.sid,
            # "sent" = handed to Twilio; callbacks move it on to delivered or failed.
            status=FINAL_STATUSES.get(twilio_status, "sent"),
            raw=raw,
        )

    def _misconfigured(self, text: Any) -> ProviderError:
        return TransientProviderError(text, provider=PROVIDER, provider_code="config", reason="misconfigured")
