from django.contrib import admin
from django.http import HttpRequest

from .models import Migration


@admin.register(Migration)
class MigrationAdmin(admin.ModelAdmin):
    """For support to read where a workspace stands; the assistant is the one place that changes it."""

    list_display = ["__str__", "workspace", "step", "status", "started_at", "finished_at"]
    list_filter = ["status", "step", "old_crm"]
    readonly_fields = [field.name for field in Migration._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
