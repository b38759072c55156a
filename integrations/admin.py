from django.contrib import admin

from .models import (
    Connection,
    ExternalRef,
    FieldMapping,
    Notification,
    ObjectSetting,
    QuarantinedRecord,
    SyncRun,
    SyncState,
)


class ObjectSettingInline(admin.TabularInline):
    model = ObjectSetting
    extra = 0


@admin.register(Connection)
class ConnectionAdmin(admin.ModelAdmin):
    list_display = ["__str__", "workspace", "crm", "status", "remote_user_email", "last_synced_at"]
    list_filter = ["crm", "status"]
    # Tokens stay encrypted and out of the form.
    exclude = ["encrypted_tokens"]
    readonly_fields = ["token_expires_at", "token_refresh_claimed_until", "last_error", "last_error_at"]
    inlines = [ObjectSettingInline]


class FieldMappingInline(admin.TabularInline):
    model = FieldMapping
    extra = 0


@admin.register(ObjectSetting)
class ObjectSettingAdmin(admin.ModelAdmin):
    list_display = ["connection", "object_type", "mode", "updated_at"]
    inlines = [FieldMappingInline]


@admin.register(SyncRun)
class SyncRunAdmin(admin.ModelAdmin):
    list_display = [
        "pk",
        "connection",
        "trigger",
        "status",
        "started_at",
        "finished_at",
        "created",
        "updated",
        "quarantined",
        "churned",
        "pushed",
    ]
    list_filter = ["status", "trigger"]


@admin.register(ExternalRef)
class ExternalRefAdmin(admin.ModelAdmin):
    list_display = [
        "connection",
        "object_type",
        "external_id",
        "local_id",
        "in_selection",
        "remote_modified_at",
    ]
    list_filter = ["object_type", "in_selection"]
    search_fields = ["external_id"]


@admin.register(QuarantinedRecord)
class QuarantinedRecordAdmin(admin.ModelAdmin):
    list_display = ["connection", "object_type", "external_id", "reason", "last_seen_at", "resolved_at"]
    list_filter = ["object_type"]


admin.site.register([SyncState, FieldMapping])


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["created_at", "workspace", "connection", "cause", "message", "dismissed_at"]
    list_filter = ["cause"]
