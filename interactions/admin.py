from django.contrib import admin

from .models import Interaction


@admin.register(Interaction)
class InteractionAdmin(admin.ModelAdmin):
    list_display = ["occurred_at", "kind", "direction", "subject", "customer", "source"]
    list_filter = ["kind", "direction", "source", "workspace"]
    raw_id_fields = ["customer", "author"]
    filter_horizontal = ["contacts"]
