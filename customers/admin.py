from django.contrib import admin

from .models import ChangeLog, Contact, Customer, CustomerSource, CustomField, HealthProfile, Phase, Tag


class CustomerSourceInline(admin.TabularInline):
    model = CustomerSource
    extra = 0


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "workspace",
        "ref_id",
        "domain",
        "owner",
        "phase",
        "active_mrr",
        "last_contact_at",
    ]
    list_filter = ["workspace", "phase"]
    search_fields = ["name", "ref_id", "domain"]
    raw_id_fields = ["parent", "owner"]
    filter_horizontal = ["tags", "team_members"]
    inlines = [CustomerSourceInline]


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ["__str__", "email", "customer", "workspace"]
    search_fields = ["first_name", "last_name", "email"]
    raw_id_fields = ["customer"]


@admin.register(Phase)
class PhaseAdmin(admin.ModelAdmin):
    list_display = ["label", "technical_name", "workspace", "position", "is_default"]
    list_filter = ["workspace"]


@admin.register(ChangeLog)
class ChangeLogAdmin(admin.ModelAdmin):
    list_display = ["created_at", "customer", "field", "old_value", "new_value", "actor_kind", "actor_label"]
    list_filter = ["actor_kind", "workspace"]
    raw_id_fields = ["customer", "actor_user"]


admin.site.register([Tag, HealthProfile, CustomField, CustomerSource])
