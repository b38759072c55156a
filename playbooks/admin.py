from django.contrib import admin

from .models import Playbook, PlaybookAction, PlaybookCondition, PlaybookEngineState, PlaybookRun, Task


class ConditionInline(admin.TabularInline):
    model = PlaybookCondition
    extra = 0
    raw_id_fields = ("phase", "profile", "tag", "user")


class ActionInline(admin.TabularInline):
    model = PlaybookAction
    extra = 0
    raw_id_fields = ("phase", "profile", "tag", "user")


@admin.register(Playbook)
class PlaybookAdmin(admin.ModelAdmin):
    list_display = ("name", "workspace", "trigger", "enabled", "updated_at")
    list_filter = ("enabled", "trigger")
    search_fields = ("name",)
    raw_id_fields = ("workspace", "created_by", "updated_by")
    inlines = [ConditionInline, ActionInline]


@admin.register(PlaybookRun)
class PlaybookRunAdmin(admin.ModelAdmin):
    list_display = ("id", "playbook", "customer", "trigger_key", "status", "started_at")
    list_filter = ("status",)
    raw_id_fields = ("workspace", "playbook", "customer", "triggered_by", "caused_by")
    readonly_fields = ("results",)


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = ("title", "customer", "assignee", "due_on", "done_at")
    list_filter = ("done_at",)
    search_fields = ("title",)
    raw_id_fields = ("workspace", "customer", "assignee", "done_by", "created_by_run", "created_by")


@admin.register(PlaybookEngineState)
class PlaybookEngineStateAdmin(admin.ModelAdmin):
    list_display = ("id", "last_change_id", "events_finished_at", "daily_finished_at")


@admin.register(PlaybookCondition)
class PlaybookConditionAdmin(admin.ModelAdmin):
    list_display = ("playbook", "position", "kind")
    raw_id_fields = ("playbook",)


@admin.register(PlaybookAction)
class PlaybookActionAdmin(admin.ModelAdmin):
    list_display = ("playbook", "position", "kind")
    raw_id_fields = ("playbook",)
