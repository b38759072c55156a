from django.contrib import admin

from .models import (
    SandboxAccount,
    SandboxAssociation,
    SandboxCall,
    SandboxProperty,
    SandboxRecord,
    SandboxToken,
)


@admin.register(SandboxRecord)
class SandboxRecordAdmin(admin.ModelAdmin):
    list_display = ["crm", "account_id", "object_type", "external_id", "updated_at", "archived"]
    list_filter = ["crm", "account_id", "object_type", "archived"]
    search_fields = ["external_id"]


@admin.register(SandboxAccount)
class SandboxAccountAdmin(admin.ModelAdmin):
    list_display = ["crm", "account_id", "name", "user_email", "rate_limit", "rate_window_seconds", "daily_limit"]


admin.site.register([SandboxAssociation, SandboxProperty, SandboxToken, SandboxCall])
