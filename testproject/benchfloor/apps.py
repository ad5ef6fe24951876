from django.apps import AppConfig

from django_sms_verify.providers import PROVIDER_CLASSES


class BenchFloorConfig(AppConfig):
    """What bench/run.py measures against; installed only with BENCH_FLOOR=1."""

    name = "benchfloor"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The fake provider of the test suite (its server runs in bench/run.py), imported
        # on first use: run with the repository root on PYTHONPATH.
        PROVIDER_CLASSES.setdefault("fakehttp", "tests.fakes.http_sms.FakeHttpProvider")
