from django.db import migrations
from django.db.models import Exists, OuterRef


def close_superseded_pending(apps, schema_editor):
    """A pending code is its phone's latest sent verification (a check approves it by the
    one-pending constraint's index, without looking for newer rows). The code before 0004
    could leave an older row pending behind a newer one: close those."""
    Verification = apps.get_model("sms_verify", "Verification")
    db = schema_editor.connection.alias
    newer = (
        Verification.objects.using(db)
        .filter(phone=OuterRef("phone"), usage_type=OuterRef("usage_type"), created_at__gt=OuterRef("created_at"))
        .exclude(status="failed")
    )
    # Read first, then update by id: MySQL refuses an UPDATE whose WHERE reads its own table.
    superseded = list(
        Verification.objects.using(db).filter(status="pending").filter(Exists(newer)).values_list("pk", flat=True)
    )
    for start in range(0, len(superseded), 500):
        Verification.objects.using(db).filter(pk__in=superseded[start : start + 500]).update(
            status="expired", code_encrypted=""
        )


class Migration(migrations.Migration):
    dependencies = [
        ("sms_verify", "0004_one_pending_verification"),
    ]

    operations = [
        migrations.RunPython(close_superseded_pending, migrations.RunPython.noop, elidable=True),
    ]
