"""Provider webhooks, one module per provider (``webhooks/<provider>.py``)."""

urlpatterns: list = []
