"""Each action goes through the customer services, and the change history names the playbook run."""

import pytest
from django.utils import timezone

from customers.changes import Actor
from customers.models import ChangeLog
from customers.services import customer_update, health_profile_get_or_create, tags_get_or_create
from playbooks.models import ActionKind, PlaybookRun, Task, Trigger
from playbooks.services import ActionSpec, playbook_run_start, playbooks_process_events
from tests.factories import CustomerFactory, phase

from .util import later

pytestmark = pytest.mark.django_db


def run_now(playbook, customer, key="test"):
    return playbook_run_start(playbook=playbook, customer_id=customer.pk, trigger_key=key)


def playbook_changes(customer, run):
    return list(
        ChangeLog.objects.filter(
            customer=customer, actor_kind=ChangeLog.ActorKind.PLAYBOOK_RUN, actor_ref=str(run.pk)
        )
    )


def test_change_stage_is_logged_with_the_run_as_actor(make_playbook, customer, workspace):
    playbook = make_playbook(
        name="Onboard",
        actions=[ActionSpec(kind=ActionKind.CHANGE_STAGE, phase=phase(workspace, "onboarding"))],
    )
    run = run_now(playbook, customer)
    customer.refresh_from_db()
    assert customer.phase.technical_name == "onboarding"
    [change] = playbook_changes(customer, run)
    assert (change.field, change.old_value, change.new_value) == ("phase", "Run", "Onboarding")
    assert change.actor_label == f"Playbook 'Onboard' run #{run.pk}"
    assert run.results == [
        {"action": "Change the stage to Onboarding", "outcome": "done", "detail": "Stage Run → Onboarding."}
    ]


def test_change_profile(make_playbook, customer, workspace):
    profile = health_profile_get_or_create(workspace=workspace, name="Enterprise")
    playbook = make_playbook(actions=[ActionSpec(kind=ActionKind.CHANGE_PROFILE, profile=profile)])
    run = run_now(playbook, customer)
    customer.refresh_from_db()
    assert customer.health_profile == profile
    assert [c.field for c in playbook_changes(customer, run)] == ["health_profile"]


def test_add_and_remove_tags_keep_the_other_tags(make_playbook, customer, workspace):
    churn_risk, vip = tags_get_or_create(workspace=workspace, names=["VIP", "Churn risk"])
    customer.tags.set([vip, churn_risk])
    playbook = make_playbook(
        actions=[
            ActionSpec(kind=ActionKind.ADD_TAG, new_tag_name="Renewal"),
            ActionSpec(kind=ActionKind.REMOVE_TAG, tag=churn_risk),
        ]
    )
    run = run_now(playbook, customer)
    assert sorted(tag.name for tag in customer.tags.all()) == ["Renewal", "VIP"]
    assert [r["outcome"] for r in run.results] == ["done", "done"]
    assert len(playbook_changes(customer, run)) == 2


def test_an_action_with_nothing_to_change_is_unchanged_and_logs_nothing(make_playbook, customer, workspace):
    playbook = make_playbook(
        actions=[ActionSpec(kind=ActionKind.CHANGE_STAGE, phase=phase(workspace, "run"))]
    )
    run = run_now(playbook, customer)
    assert run.results[0]["outcome"] == "unchanged"
    assert run.status == "done"
    assert playbook_changes(customer, run) == []


def test_change_owner(make_playbook, customer, other_csm_membership):
    playbook = make_playbook(
        actions=[ActionSpec(kind=ActionKind.CHANGE_OWNER, user=other_csm_membership.user)]
    )
    run = run_now(playbook, customer)
    customer.refresh_from_db()
    assert customer.owner == other_csm_membership.user
    assert [c.field for c in playbook_changes(customer, run)] == ["owner"]


def test_change_owner_to_a_user_who_left_the_workspace_fails_clearly(
    make_playbook, customer, other_csm_membership
):
    playbook = make_playbook(
        actions=[ActionSpec(kind=ActionKind.CHANGE_OWNER, user=other_csm_membership.user)]
    )
    other_csm_membership.delete()
    run = run_now(playbook, customer)
    assert run.status == "failed"
    assert "no longer a member" in run.results[0]["detail"]
    customer.refresh_from_db()
    assert customer.owner != other_csm_membership.user


def test_create_task_for_a_chosen_user_or_the_owner(
    make_playbook, customer, manager_membership, csm_membership
):
    playbook = make_playbook(
        name="Renewal prep",
        actions=[
            ActionSpec(
                kind=ActionKind.CREATE_TASK,
                user=manager_membership.user,
                task_title="Prepare the offer",
                due_in_days=7,
            ),
            ActionSpec(kind=ActionKind.CREATE_TASK, assign_to_owner=True, task_title="Call the sponsor"),
        ],
    )
    run = run_now(playbook, customer)
    tasks = {task.title: task for task in Task.objects.filter(customer=customer)}
    assert tasks["Prepare the offer"].assignee == manager_membership.user
    assert tasks["Prepare the offer"].due_on == timezone.localdate() + timezone.timedelta(days=7)
    assert tasks["Call the sponsor"].assignee == csm_membership.user
    assert tasks["Call the sponsor"].due_on is None
    assert all(task.created_by_run == run and task.playbook_name == "Renewal prep" for task in tasks.values())


def test_a_task_for_the_owner_of_a_customer_without_owner_fails_but_the_other_actions_run(
    make_playbook, workspace
):
    customer = CustomerFactory(workspace=workspace, owner=None)
    playbook = make_playbook(
        actions=[
            ActionSpec(kind=ActionKind.CREATE_TASK, assign_to_owner=True, task_title="Call"),
            ActionSpec(kind=ActionKind.ADD_TAG, new_tag_name="Needs owner"),
        ]
    )
    run = run_now(playbook, customer)
    assert run.status == "partial"
    assert run.results[0]["outcome"] == "failed"
    assert "no owner" in run.results[0]["detail"]
    assert [tag.name for tag in customer.tags.all()] == ["Needs owner"]


def test_an_action_whose_stage_was_deleted_is_skipped(make_playbook, customer, workspace):
    from customers.services import phase_create

    temporary = phase_create(workspace=workspace, technical_name="pilot", label="Pilot")
    playbook = make_playbook(actions=[ActionSpec(kind=ActionKind.CHANGE_STAGE, phase=temporary)])
    temporary.delete()
    run = run_now(playbook, customer)
    assert run.results[0]["outcome"] == "skipped"
    assert "deleted" in run.results[0]["detail"]


def test_the_same_key_never_runs_twice(make_playbook, customer):
    playbook = make_playbook()
    assert run_now(playbook, customer, key="k") is not None
    assert run_now(playbook, customer, key="k") is None
    assert PlaybookRun.objects.filter(playbook=playbook).count() == 1


# ---- chains and loops ----------------------------------------------------------------------------------


def test_a_playbooks_change_triggers_other_playbooks_and_names_the_run_it_follows(
    make_playbook, customer, workspace, manager_membership
):
    to_onboarding = make_playbook(
        name="To onboarding",
        trigger=Trigger.OWNER_CHANGED,
        actions=[ActionSpec(kind=ActionKind.CHANGE_STAGE, phase=phase(workspace, "onboarding"))],
    )
    welcome = make_playbook(name="Welcome", trigger=Trigger.STAGE_CHANGED)
    customer_update(
        customer=customer, actor=Actor.for_user(manager_membership.user), owner=manager_membership.user
    )
    playbooks_process_events(now=later())
    [first] = PlaybookRun.objects.filter(playbook=to_onboarding)
    playbooks_process_events(now=later())
    [second] = PlaybookRun.objects.filter(playbook=welcome)
    assert second.caused_by == first
    assert f"Playbook 'To onboarding' run #{first.pk}" in second.trigger_detail


def test_a_playbook_never_retriggers_itself(make_playbook, customer, workspace, manager_membership):
    flip = make_playbook(
        name="Flip",
        trigger=Trigger.STAGE_CHANGED,
        actions=[ActionSpec(kind=ActionKind.CHANGE_STAGE, phase=phase(workspace, "trial"))],
    )
    customer_update(
        customer=customer, actor=Actor.for_user(manager_membership.user), phase=phase(workspace, "onboarding")
    )
    playbooks_process_events(now=later())
    result = playbooks_process_events(now=later())
    assert PlaybookRun.objects.filter(playbook=flip).count() == 1
    assert result.loops_prevented == 1


def test_two_playbooks_never_ping_pong(make_playbook, customer, workspace, manager_membership):
    to_trial = make_playbook(
        name="To trial",
        trigger=Trigger.STAGE_CHANGED,
        actions=[ActionSpec(kind=ActionKind.CHANGE_STAGE, phase=phase(workspace, "trial"))],
    )
    to_run = make_playbook(
        name="To run",
        trigger=Trigger.STAGE_CHANGED,
        actions=[ActionSpec(kind=ActionKind.CHANGE_STAGE, phase=phase(workspace, "run"))],
    )
    customer_update(
        customer=customer, actor=Actor.for_user(manager_membership.user), phase=phase(workspace, "onboarding")
    )
    for _ in range(6):
        playbooks_process_events(now=later())
    # The user's change starts both; each one's change may start the other once, never itself again.
    assert PlaybookRun.objects.filter(playbook=to_trial).count() <= 2
    assert PlaybookRun.objects.filter(playbook=to_run).count() <= 2
    assert playbooks_process_events(now=later()).runs == 0


def test_a_user_change_after_a_playbook_run_triggers_the_playbook_again(
    make_playbook, customer, workspace, manager_membership
):
    flip = make_playbook(
        name="Flip",
        trigger=Trigger.STAGE_CHANGED,
        actions=[ActionSpec(kind=ActionKind.ADD_TAG, new_tag_name="Moved")],
    )
    actor = Actor.for_user(manager_membership.user)
    customer_update(customer=customer, actor=actor, phase=phase(workspace, "onboarding"))
    playbooks_process_events(now=later())
    customer_update(customer=customer, actor=actor, phase=phase(workspace, "trial"))
    playbooks_process_events(now=later())
    assert PlaybookRun.objects.filter(playbook=flip).count() == 2


def test_an_action_whose_user_was_deleted_is_skipped(make_playbook, customer, other_csm_membership):
    from playbooks.models import PlaybookAction

    playbook = make_playbook(
        actions=[ActionSpec(kind=ActionKind.CHANGE_OWNER, user=other_csm_membership.user)]
    )
    PlaybookAction.objects.filter(playbook=playbook).update(user=None)  # what SET_NULL leaves behind
    run = run_now(playbook, customer)
    assert run.results[0]["outcome"] == "skipped"
