from django.urls import path

from .views import FloorView, LeanWritesFloorView, SameWritesFloorView

urlpatterns = [
    path("floor/", FloorView.as_view(), name="bench-floor"),
    path("floor-writes/", SameWritesFloorView.as_view(), name="bench-floor-writes"),
    path("floor-writes-sql/", LeanWritesFloorView.as_view(), name="bench-floor-writes-sql"),
]
