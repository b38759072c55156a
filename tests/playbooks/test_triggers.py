"""Each trigger, with the clock passed in: event triggers read the change history, time triggers daily."""

import datetime as dt

import pytest
from django.utils import timezone

from customers.changes import Actor
from customers.models import ChangeLog
from customers.services import customer_set_pulse, customer_update, health_profile_get_or_create
from playbooks.models import ActionKind, PlaybookRun, Trigger
from playbooks.services import ActionSpec, playbooks_process_events, playbooks_run_daily, time_candidates
from tests.factories import CustomerFactory, phase

from .util import later

pytestmark = pytest.mark.django_db


def runs_of(playbook):
    return list(PlaybookRun.objects.filter(playbook=playbook).order_by("id"))


def test_a_new_customer_enters_a_new_customer_playbook(make_playbook, new_customer):
    playbook = make_playbook(trigger=Trigger.CUSTOMER_CREATED)
    customer = new_customer()
    result = playbooks_process_events(now=later())
    assert result.runs == 1
    [run] = runs_of(playbook)
    assert run.customer == customer
    assert run.status == "done"
    assert "Customer created" in run.trigger_detail
    assert [tag.name for tag in customer.tags.all()] == ["Touched"]


def test_changes_not_settled_yet_wait_for_the_next_pass(make_playbook, new_customer):
    playbook = make_playbook(trigger=Trigger.CUSTOMER_CREATED)
    new_customer()
    assert playbooks_process_events(now=timezone.now()).runs == 0
    assert playbooks_process_events(now=later()).runs == 1
    assert len(runs_of(playbook)) == 1


def test_changes_made_before_the_playbook_was_enabled_never_trigger_it(make_playbook, new_customer):
    new_customer()
    playbook = make_playbook(trigger=Trigger.CUSTOMER_CREATED)
    playbooks_process_events(now=later())
    assert runs_of(playbook) == []


def test_a_disabled_playbook_is_not_triggered(make_playbook, new_customer):
    playbook = make_playbook(trigger=Trigger.CUSTOMER_CREATED, enabled=False)
    new_customer()
    playbooks_process_events(now=later())
    assert runs_of(playbook) == []


def test_stage_changed_owner_changed_and_pulse_changed_each_trigger_their_playbooks(
    make_playbook, customer, workspace, manager_membership
):
    stage = make_playbook(name="Stage", trigger=Trigger.STAGE_CHANGED)
    owner = make_playbook(name="Owner", trigger=Trigger.OWNER_CHANGED)
    pulse = make_playbook(name="Pulse", trigger=Trigger.PULSE_CHANGED)
    actor = Actor.for_user(manager_membership.user)
    customer_update(customer=customer, actor=actor, phase=phase(workspace, "onboarding"))
    playbooks_process_events(now=later())
    assert [len(runs_of(p)) for p in (stage, owner, pulse)] == [1, 0, 0]
    assert "Stage changed: Run → Onboarding" in runs_of(stage)[0].trigger_detail

    customer_update(customer=customer, actor=actor, owner=manager_membership.user)
    customer_set_pulse(customer=customer, actor=actor, pulse=2, note="Quiet")
    playbooks_process_events(now=later())
    assert [len(runs_of(p)) for p in (stage, owner, pulse)] == [1, 1, 1]


def test_other_changes_do_not_trigger_event_playbooks(make_playbook, customer, workspace, manager_membership):
    playbook = make_playbook(trigger=Trigger.STAGE_CHANGED)
    profile = health_profile_get_or_create(workspace=workspace, name="SMB")
    customer_update(customer=customer, actor=Actor.for_user(manager_membership.user), health_profile=profile)
    playbooks_process_events(now=later())
    assert runs_of(playbook) == []


def test_another_workspaces_changes_do_not_trigger_this_workspaces_playbooks(
    make_playbook, other_workspace, stranger_membership
):
    playbook = make_playbook(trigger=Trigger.STAGE_CHANGED)
    theirs = CustomerFactory(workspace=other_workspace)
    customer_update(
        customer=theirs, actor=Actor.for_user(stranger_membership.user), phase=phase(other_workspace, "trial")
    )
    playbooks_process_events(now=later())
    assert runs_of(playbook) == []


def test_a_pass_never_overlaps_a_running_one(make_playbook, new_customer):
    from playbooks.models import PlaybookEngineState

    make_playbook(trigger=Trigger.CUSTOMER_CREATED)
    new_customer()
    PlaybookEngineState.objects.create(pk=1, events_running_since=timezone.now())
    assert playbooks_process_events(now=later()) is None
    # A claim left by a crashed worker expires.
    assert playbooks_process_events(now=later(60)).runs == 1


def test_re_processing_the_same_changes_never_duplicates_a_run(make_playbook, new_customer):
    from playbooks.models import PlaybookEngineState

    playbook = make_playbook(trigger=Trigger.CUSTOMER_CREATED)
    new_customer()
    playbooks_process_events(now=later())
    PlaybookEngineState.objects.filter(pk=1).update(last_change_id=0)  # as if the mark were lost
    result = playbooks_process_events(now=later())
    assert result.runs == 0
    assert result.already_ran == 1
    assert len(runs_of(playbook)) == 1


# ---- time-based triggers ----------------------------------------------------------------------------------


def test_stage_unchanged_for_n_days_counts_from_the_last_stage_change(
    make_playbook, customer, workspace, manager_membership
):
    playbook = make_playbook(trigger=Trigger.STAGE_UNCHANGED, trigger_days=30)
    customer_update(
        customer=customer, actor=Actor.for_user(manager_membership.user), phase=phase(workspace, "trial")
    )
    now = timezone.now()
    assert playbooks_run_daily(now=now + dt.timedelta(days=29)).runs == 0
    assert playbooks_run_daily(now=now + dt.timedelta(days=31)).runs == 1
    # The next day it has already run for this stay in the stage.
    assert playbooks_run_daily(now=now + dt.timedelta(days=32)).runs == 0
    [run] = runs_of(playbook)
    change = ChangeLog.objects.get(customer=customer, field="phase")
    assert run.trigger_key == f"stage-since:{change.pk}"


def test_stage_unchanged_without_any_stage_change_counts_from_creation(make_playbook, customer):
    playbook = make_playbook(trigger=Trigger.STAGE_UNCHANGED, trigger_days=10)
    assert playbooks_run_daily(now=customer.created_at + dt.timedelta(days=9)).runs == 0
    assert playbooks_run_daily(now=customer.created_at + dt.timedelta(days=10, minutes=1)).runs == 1
    assert runs_of(playbook)[0].trigger_key == "stage-since:created"


def test_a_new_stay_in_a_stage_enters_the_playbook_again(
    make_playbook, customer, workspace, manager_membership
):
    playbook = make_playbook(trigger=Trigger.STAGE_UNCHANGED, trigger_days=5)
    start = timezone.now()
    playbooks_run_daily(now=start + dt.timedelta(days=6))
    ChangeLog.objects.create(
        workspace=workspace,
        customer=customer,
        field="phase",
        old_value="Run",
        new_value="Trial",
        actor_kind=ChangeLog.ActorKind.USER,
    )
    ChangeLog.objects.filter(field="phase").update(created_at=start + dt.timedelta(days=7))
    assert playbooks_run_daily(now=start + dt.timedelta(days=10)).runs == 0
    assert playbooks_run_daily(now=start + dt.timedelta(days=13)).runs == 1
    assert len(runs_of(playbook)) == 2


def test_renewal_in_n_days_runs_once_per_renewal_date(make_playbook, customer):
    playbook = make_playbook(trigger=Trigger.RENEWAL_IN, trigger_days=60)
    now = timezone.now()
    today = timezone.localdate(now)
    customer.next_renewal_on = today + dt.timedelta(days=90)
    customer.save()
    assert playbooks_run_daily(now=now).runs == 0
    assert playbooks_run_daily(now=now + dt.timedelta(days=30)).runs == 1
    assert playbooks_run_daily(now=now + dt.timedelta(days=31)).runs == 0
    assert runs_of(playbook)[0].trigger_key == f"renewal:{customer.next_renewal_on}"
    # The contract renewed: the next renewal date enters again when it comes near.
    customer.next_renewal_on = today + dt.timedelta(days=455)
    customer.save()
    assert playbooks_run_daily(now=now + dt.timedelta(days=400)).runs == 1


def test_a_renewal_date_already_past_does_not_enter(make_playbook, customer):
    make_playbook(trigger=Trigger.RENEWAL_IN, trigger_days=60)
    customer.next_renewal_on = timezone.localdate() - dt.timedelta(days=1)
    customer.save()
    assert playbooks_run_daily(now=timezone.now()).runs == 0


def test_health_score_below_n_runs_at_most_once_a_week(make_playbook, customer, workspace):
    playbook = make_playbook(trigger=Trigger.HEALTH_BELOW, trigger_score=4)
    customer.health_score = 4
    customer.save()
    monday = timezone.make_aware(dt.datetime(2025, 3, 3, 6, 0))
    assert playbooks_run_daily(now=monday).runs == 0
    customer.health_score = 3
    customer.save()
    CustomerFactory(workspace=workspace, health_score=None)
    assert playbooks_run_daily(now=monday).runs == 1
    assert playbooks_run_daily(now=monday + dt.timedelta(days=3)).runs == 0
    assert playbooks_run_daily(now=monday + dt.timedelta(days=7)).runs == 1
    assert [run.trigger_key for run in runs_of(playbook)] == ["health-week:2025-W10", "health-week:2025-W11"]


def test_time_candidates_leave_out_customers_already_run_for_that_event(make_playbook, customer):
    playbook = make_playbook(trigger=Trigger.HEALTH_BELOW, trigger_score=5)
    customer.health_score = 2
    customer.save()
    now = timezone.now()
    assert [c.customer_id for c in time_candidates(playbook=playbook, now=now)] == [customer.pk]
    playbooks_run_daily(now=now)
    assert time_candidates(playbook=playbook, now=now) == []


def test_the_daily_pass_does_not_run_event_or_manual_playbooks(make_playbook, customer):
    manual = make_playbook(name="Manual", trigger=Trigger.MANUAL)
    event = make_playbook(name="Event", trigger=Trigger.STAGE_CHANGED)
    playbooks_run_daily(now=timezone.now())
    assert runs_of(manual) == [] and runs_of(event) == []


def test_a_task_due_delay_counts_from_the_passes_today(make_playbook, customer, csm_membership):
    make_playbook(
        trigger=Trigger.HEALTH_BELOW,
        trigger_score=5,
        actions=[
            ActionSpec(kind=ActionKind.CREATE_TASK, assign_to_owner=True, task_title="Call", due_in_days=3)
        ],
    )
    customer.health_score = 1
    customer.save()
    playbooks_run_daily(now=timezone.make_aware(dt.datetime(2025, 6, 2, 6, 0)))
    task = customer.tasks.get()
    assert task.due_on == dt.date(2025, 6, 5)
    assert task.assignee == csm_membership.user
