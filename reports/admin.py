from django.contrib import admin

from .models import CustomerFigures, ReportSnapshot


@admin.register(ReportSnapshot)
class ReportSnapshotAdmin(admin.ModelAdmin):
    list_display = ["day", "workspace", "computed_at", "currency"]
    list_filter = ["workspace"]


@admin.register(CustomerFigures)
class CustomerFiguresAdmin(admin.ModelAdmin):
    list_display = ["name", "snapshot", "owner_id", "health_score", "churned"]
    raw_id_fields = ["snapshot"]
