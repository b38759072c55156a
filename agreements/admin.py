from django.contrib import admin

from .models import Agreement, SkippedAgreement


@admin.register(Agreement)
class AgreementAdmin(admin.ModelAdmin):
    list_display = ["plan_name", "customer", "mrr", "start_date", "ends_on", "renews_on", "status", "source"]
    list_filter = ["status", "source", "workspace"]
    raw_id_fields = ["customer"]


@admin.register(SkippedAgreement)
class SkippedAgreementAdmin(admin.ModelAdmin):
    list_display = ["label", "customer", "source", "external_id", "missing_fields", "seen_at"]
    raw_id_fields = ["customer"]
