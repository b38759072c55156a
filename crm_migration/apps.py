from django.apps import AppConfig


class CrmMigrationConfig(AppConfig):
    name = "crm_migration"
    verbose_name = "CRM migration"
