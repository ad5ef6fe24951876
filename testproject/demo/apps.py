from django.apps import AppConfig
from django.db.models.signals import post_migrate


class DemoConfig(AppConfig):
    name = "demo"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        post_migrate.connect(seed_console_connector)


SEED_TEMPLATES = {
    "Register": "Your registration code is <<code>>. It expires in <<ttl_minutes>> minutes.",
    "SignIn": "Your sign-in code is <<code>>. It expires in <<ttl_minutes>> minutes.",
    "ForgotPassword": "Your password reset code is <<code>>. It expires in <<ttl_minutes>> minutes.",
    "Generic": "Your verification code is <<code>>. It expires in <<ttl_minutes>> minutes.",
}


def seed_console_connector(app_config, **kwargs) -> None:
    """On first run, a console connector serving every region, with the four templates."""
    from django_sms_verify.models import Connector, Template

    if app_config.label != "sms_verify" or Connector.objects.exists():
        return
    connector = Connector.objects.create(name="console", provider="console", priority=100, regions=[])
    for usage_type, content in SEED_TEMPLATES.items():
        Template.objects.create(connector=connector, usage_type=usage_type, content=content)
