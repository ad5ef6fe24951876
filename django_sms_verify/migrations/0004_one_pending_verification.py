from django.db import migrations, models


def close_duplicate_pending(apps, schema_editor):
    """Before the constraint: of several pending codes for one phone and usage type (two
    concurrent first requests could create them), only the newest stays pending."""
    Verification = apps.get_model("sms_verify", "Verification")
    db = schema_editor.connection.alias
    pending = Verification.objects.using(db).filter(status="pending")
    duplicated = (
        pending.values("phone", "usage_type")
        .annotate(count=models.Count("id"))
        .filter(count__gt=1)
    )
    for group in duplicated.iterator():
        newest = (
            pending.filter(phone=group["phone"], usage_type=group["usage_type"]).order_by("-created_at").first()
        )
        pending.filter(phone=group["phone"], usage_type=group["usage_type"]).exclude(pk=newest.pk).update(
            status="expired", code_encrypted=""
        )


class Migration(migrations.Migration):
    dependencies = [
        ("sms_verify", "0003_message_context"),
    ]

    operations = [
        migrations.RunPython(close_duplicate_pending, migrations.RunPython.noop, elidable=True),
        migrations.AddConstraint(
            model_name="verification",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status", "pending")),
                fields=("phone", "usage_type"),
                name="sms_verify_v_one_pending",
            ),
        ),
    ]
