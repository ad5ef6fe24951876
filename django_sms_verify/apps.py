from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SmsVerifyConfig(AppConfig):
    name = "django_sms_verify"
    label = "sms_verify"
    verbose_name = _("SMS verification")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the system checks; connects the connector cache's invalidation signals.
        from django_sms_verify import checks  # noqa: F401
        from django_sms_verify.abuse.pumping import on_verification_approved, on_verification_requested
        from django_sms_verify.sending import connector_cache  # noqa: F401
        from django_sms_verify.signals import verification_approved, verification_requested

        # The pumping monitor counts sends and approvals per region.
        verification_requested.connect(on_verification_requested, dispatch_uid="sms_verify.conversion.sent")
        verification_approved.connect(on_verification_approved, dispatch_uid="sms_verify.conversion.approved")
