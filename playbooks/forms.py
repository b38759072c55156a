"""The playbook form: the playbook itself, then a fixed number of condition rows and action rows.

Each row is a kind, one "what" select grouping the workspace's stages, users, tags and profiles, and the
free inputs some kinds need (a number, a new tag's name, a task's title and due delay)."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.forms import formset_factory

from customers.models import HealthProfile, Phase, Tag
from workspaces.models import Workspace

from .models import ActionKind, ConditionKind, Playbook, PlaybookAction, PlaybookCondition, Trigger
from .rules import ACTION_NEEDS, CONDITION_NEEDS, TARGET_NOUNS
from .services import MAX_DAYS, MAX_DUE_DAYS, MAX_ROWS, ActionSpec, ConditionSpec

OWNER = "owner"
BLANK_ROWS = 3


def _user_label(user: Any) -> str:
    return user.get_full_name() or user.email


class Targets:
    """The workspace's stages, profiles, tags and members, as select options and as a lookup."""

    def __init__(self, workspace: Workspace) -> None:
        users = (
            get_user_model().objects.filter(memberships__workspace=workspace).order_by("first_name", "email")
        )
        self.groups: dict[str, list[tuple[str, Any]]] = {
            "phase": [(f"phase:{p.pk}", p) for p in Phase.objects.filter(workspace=workspace)],
            "user": [(f"user:{u.pk}", u) for u in users],
            "tag": [(f"tag:{t.pk}", t) for t in Tag.objects.filter(workspace=workspace)],
            "profile": [(f"profile:{p.pk}", p) for p in HealthProfile.objects.filter(workspace=workspace)],
        }
        self.lookup = {value: obj for rows in self.groups.values() for value, obj in rows}

    def choices(self, *, with_owner: bool = False) -> list[Any]:
        titles = {"phase": "Stages", "user": "Users", "tag": "Tags", "profile": "Health profiles"}
        choices: list[Any] = [("", "—")]
        for key, rows in self.groups.items():
            options = [(value, _user_label(obj) if key == "user" else str(obj)) for value, obj in rows]
            if key == "user" and with_owner:
                options.insert(0, (OWNER, "The customer's owner (at run time)"))
            if options:
                choices.append((titles[key], options))
        return choices

    @staticmethod
    def value_of(row: PlaybookCondition | PlaybookAction, needs: str | None) -> str:
        if isinstance(row, PlaybookAction) and row.kind == ActionKind.CREATE_TASK and row.assign_to_owner:
            return OWNER
        if needs in TARGET_NOUNS and getattr(row, f"{needs}_id", None):
            return f"{needs}:{getattr(row, f'{needs}_id')}"
        return ""


class PlaybookForm(forms.ModelForm):
    trigger_days = forms.IntegerField(
        label="N days",
        required=False,
        min_value=1,
        max_value=MAX_DAYS,
        help_text="For “Stage unchanged for N days” and “Renewal date in N days”.",
    )
    trigger_score = forms.IntegerField(
        label="Health score threshold N",
        required=False,
        min_value=2,
        max_value=10,
        help_text="For “Health score below N” (scores go from 1 to 10; 3 or less is at risk).",
    )

    class Meta:
        model = Playbook
        fields = ["name", "description", "trigger", "trigger_days", "trigger_score"]
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}
        help_texts = {
            "trigger": "Time-based triggers are checked once a day; changes (new customer, stage, owner, "
            "CSM Pulse) within minutes. A playbook runs once per customer per event.",
        }

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        trigger = data.get("trigger")
        if trigger in (Trigger.STAGE_UNCHANGED, Trigger.RENEWAL_IN) and not data.get("trigger_days"):
            self.add_error("trigger_days", "This trigger needs a number of days.")
        if trigger == Trigger.HEALTH_BELOW and not data.get("trigger_score"):
            self.add_error("trigger_score", "This trigger needs a health score threshold.")
        return data


class _RowForm(forms.Form):
    def __init__(self, *args: Any, targets: Targets, **kwargs: Any) -> None:
        self.targets = targets
        super().__init__(*args, **kwargs)

    def pick_target(self, needs: str | None, label: str) -> Any:
        value = self.cleaned_data.get("target") or ""
        if needs not in TARGET_NOUNS:
            return None
        if not value.startswith(f"{needs}:"):
            self.add_error("target", f"Choose a {TARGET_NOUNS[needs]} for “{label}”.")
            return None
        return self.targets.lookup.get(value)


class ConditionForm(_RowForm):
    kind = forms.ChoiceField(label="Condition", required=False, choices=[("", "—"), *ConditionKind.choices])
    target = forms.ChoiceField(label="Value", required=False)
    number = forms.DecimalField(label="Number", required=False, max_digits=14, decimal_places=2, min_value=0)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["target"]).choices = self.targets.choices()
        self.spec: ConditionSpec | None = None

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind = data.get("kind")
        if not kind:
            if data.get("target") or data.get("number") is not None:
                raise ValidationError("Choose a condition, or clear this row to remove it.")
            return data
        label = ConditionKind(kind).label
        needs = CONDITION_NEEDS[kind]
        spec = ConditionSpec(kind=kind)
        if needs == "number":
            if data.get("number") is None:
                self.add_error("number", f"Enter a number for “{label}”.")
            spec.number = data.get("number")
        elif needs is not None:
            setattr(spec, needs, self.pick_target(needs, label))
        if not self.errors:
            self.spec = spec
        return data


class ActionForm(_RowForm):
    kind = forms.ChoiceField(label="Action", required=False, choices=[("", "—"), *ActionKind.choices])
    target = forms.ChoiceField(label="Value", required=False)
    new_tag = forms.CharField(label="or a new tag", required=False, max_length=60)
    task_title = forms.CharField(label="Task title", required=False, max_length=200)
    due_in_days = forms.IntegerField(
        label="Due in (days)", required=False, min_value=0, max_value=MAX_DUE_DAYS
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["target"]).choices = self.targets.choices(with_owner=True)
        self.spec: ActionSpec | None = None

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind = data.get("kind")
        if not kind:
            if (
                any(data.get(name) for name in ("target", "new_tag", "task_title"))
                or data.get("due_in_days") is not None
            ):
                raise ValidationError("Choose an action, or clear this row to remove it.")
            return data
        label = ActionKind(kind).label
        spec = ActionSpec(kind=kind)
        if kind == ActionKind.CREATE_TASK:
            spec.task_title = (data.get("task_title") or "").strip()
            spec.due_in_days = data.get("due_in_days")
            if not spec.task_title:
                self.add_error("task_title", "A task needs a title.")
            if data.get("target") == OWNER:
                spec.assign_to_owner = True
            else:
                spec.user = self.pick_target("user", "Create a task for")
        elif kind == ActionKind.ADD_TAG and not data.get("target") and (data.get("new_tag") or "").strip():
            spec.new_tag_name = data["new_tag"].strip()
        else:
            needs = ACTION_NEEDS[kind]
            if data.get("target") == OWNER:
                self.add_error(
                    "target", f"“The customer's owner” only works for tasks; choose a {TARGET_NOUNS[needs]}."
                )
            else:
                setattr(spec, needs, self.pick_target(needs, label))
        if not self.errors:
            self.spec = spec
        return data


ConditionFormSet = formset_factory(
    ConditionForm, extra=0, max_num=MAX_ROWS, absolute_max=MAX_ROWS, validate_max=True
)
ActionFormSet = formset_factory(
    ActionForm, extra=0, max_num=MAX_ROWS, absolute_max=MAX_ROWS, validate_max=True
)


def _rows_initial(rows: list[Any], to_initial: Any) -> list[dict[str, Any]]:
    initial = [to_initial(row) for row in rows]
    blanks = max(BLANK_ROWS, 1) if len(initial) < MAX_ROWS else 0
    return initial + [{} for _ in range(min(blanks, MAX_ROWS - len(initial)))]


def condition_initial(condition: PlaybookCondition) -> dict[str, Any]:
    needs = CONDITION_NEEDS.get(condition.kind)
    return {"kind": condition.kind, "target": Targets.value_of(condition, needs), "number": condition.number}


def action_initial(action: PlaybookAction) -> dict[str, Any]:
    return {
        "kind": action.kind,
        "target": Targets.value_of(action, ACTION_NEEDS.get(action.kind)),
        "task_title": action.task_title,
        "due_in_days": action.due_in_days,
    }


def build_formsets(*, data: Any, workspace: Workspace, playbook: Playbook | None) -> tuple[Any, Any]:
    targets = Targets(workspace)
    if data is not None:
        return (
            ConditionFormSet(data, prefix="conditions", form_kwargs={"targets": targets}),
            ActionFormSet(data, prefix="actions", form_kwargs={"targets": targets}),
        )
    conditions = list(playbook.conditions.all()) if playbook else []
    actions = list(playbook.actions.all()) if playbook else []
    return (
        ConditionFormSet(
            prefix="conditions",
            form_kwargs={"targets": targets},
            initial=_rows_initial(conditions, condition_initial),
        ),
        ActionFormSet(
            prefix="actions", form_kwargs={"targets": targets}, initial=_rows_initial(actions, action_initial)
        ),
    )


class TaskForm(forms.Form):
    title = forms.CharField(max_length=200)
    due_on = forms.DateField(label="Due on", required=False, widget=forms.DateInput(attrs={"type": "date"}))
