from django.db import models


class FloorRow(models.Model):
    """One row per floor request: the least a phone-number endpoint can write."""

    phone = models.CharField(max_length=20)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.phone
