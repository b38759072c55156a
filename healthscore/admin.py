from django.contrib import admin

from .models import HealthRun, HealthScore, HealthWeights, PulseEntry, UsageCredential, UsageDaily, UsageEvent


@admin.register(HealthWeights)
class HealthWeightsAdmin(admin.ModelAdmin):
    list_display = ("workspace", "profile", "usage", "interactions", "pulse", "agreement")


@admin.register(HealthScore)
class HealthScoreAdmin(admin.ModelAdmin):
    list_display = ("customer", "week", "overall", "usage", "interactions", "pulse", "agreement", "dropping")
    list_filter = ("week",)
    raw_id_fields = ("customer",)


@admin.register(HealthRun)
class HealthRunAdmin(admin.ModelAdmin):
    list_display = (
        "workspace",
        "trigger",
        "status",
        "week",
        "customers",
        "changed",
        "started_at",
        "finished_at",
    )


@admin.register(PulseEntry)
class PulseEntryAdmin(admin.ModelAdmin):
    list_display = ("customer", "pulse", "set_at", "set_by_label")
    raw_id_fields = ("customer",)


@admin.register(UsageCredential)
class UsageCredentialAdmin(admin.ModelAdmin):
    list_display = ("workspace", "name", "prefix", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("token_hash",)


@admin.register(UsageEvent)
class UsageEventAdmin(admin.ModelAdmin):
    list_display = ("workspace", "event_id", "name", "occurred_at", "email", "customer_ref", "customer")
    raw_id_fields = ("customer", "contact")


@admin.register(UsageDaily)
class UsageDailyAdmin(admin.ModelAdmin):
    list_display = ("customer", "day", "events", "users")
    raw_id_fields = ("customer",)
