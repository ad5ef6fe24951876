"""The Django admin as the operator's console (SPEC §8).

- Connectors: a form per provider (secrets masked, blank keeps them), templates inline,
  Send test SMS (button and action), the delivery-report URLs to give the provider.
- Verifications and messages: read-only records; codes are never shown.
- Opt-outs: list, search, delete (lifts the opt-out).
- An overview of the last 14 days, linked from the app's index.
"""

from django_sms_verify.admin.connectors import ConnectorAdmin, TemplateInline
from django_sms_verify.admin.logs import MessageAdmin, OptOutAdmin, VerificationAdmin
from django_sms_verify.admin.spending import DailySendCountAdmin

__all__ = [
    "ConnectorAdmin",
    "DailySendCountAdmin",
    "MessageAdmin",
    "OptOutAdmin",
    "TemplateInline",
    "VerificationAdmin",
]
