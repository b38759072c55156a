"""Pages: everyone reads playbooks, Managers and Admins edit, CSMs run manual ones on their own customers."""

import pytest
from django.urls import reverse

from playbooks.models import ActionKind, ConditionKind, Playbook, PlaybookRun, Task, Trigger
from playbooks.services import ActionSpec, ConditionSpec
from tests.factories import CustomerFactory, phase

pytestmark = pytest.mark.django_db


def form_data(workspace, **overrides):
    data = {
        "name": "Welcome",
        "description": "",
        "trigger": Trigger.CUSTOMER_CREATED,
        "trigger_days": "",
        "trigger_score": "",
        "conditions-TOTAL_FORMS": "2",
        "conditions-INITIAL_FORMS": "0",
        "conditions-0-kind": ConditionKind.STAGE_IS_NOT,
        "conditions-0-target": f"phase:{phase(workspace, 'churn').pk}",
        "conditions-0-number": "",
        "conditions-1-kind": "",
        "conditions-1-target": "",
        "conditions-1-number": "",
        "actions-TOTAL_FORMS": "2",
        "actions-INITIAL_FORMS": "0",
        "actions-0-kind": ActionKind.CREATE_TASK,
        "actions-0-target": "owner",
        "actions-0-task_title": "Kick-off call",
        "actions-0-due_in_days": "3",
        "actions-1-kind": ActionKind.ADD_TAG,
        "actions-1-new_tag": "New",
    }
    data.update(overrides)
    return data


def test_a_manager_creates_a_playbook_that_starts_disabled(client_for, manager_membership, workspace):
    response = client_for(manager_membership).post(reverse("playbooks:create"), form_data(workspace))
    playbook = Playbook.objects.get(name="Welcome")
    assert response.status_code == 302
    assert response.url == reverse("playbooks:detail", args=[playbook.pk])
    assert playbook.enabled is False
    assert [str(c) for c in playbook.conditions.all()] == ["Stage is not Churn"]
    assert [str(a) for a in playbook.actions.all()] == [
        "Create a task for the customer's owner: “Kick-off call”, due in 3 days",
        "Add the tag New",
    ]


def test_a_bad_form_keeps_what_was_typed_and_says_what_is_wrong(client_for, admin_membership, workspace):
    data = form_data(workspace, **{"actions-0-task_title": "", "conditions-1-kind": ConditionKind.MRR_GTE})
    response = client_for(admin_membership).post(reverse("playbooks:create"), data)
    assert response.status_code == 400
    body = response.content.decode()
    assert "A task needs a title." in body
    assert "Enter a number for “Active MRR is at least”." in body
    assert 'value="New"' in body
    assert not Playbook.objects.exists()


def test_a_playbook_with_no_action_is_refused(client_for, admin_membership, workspace):
    data = form_data(
        workspace,
        **{
            "actions-0-kind": "",
            "actions-0-target": "",
            "actions-0-task_title": "",
            "actions-0-due_in_days": "",
            "actions-1-kind": "",
            "actions-1-new_tag": "",
        },
    )
    response = client_for(admin_membership).post(reverse("playbooks:create"), data)
    assert response.status_code == 400
    assert "A playbook needs at least one action." in response.content.decode()


def test_editing_the_conditions_of_an_enabled_playbook_disables_it_for_review(
    client_for, manager_membership, workspace, make_playbook
):
    playbook = make_playbook(name="Welcome", trigger=Trigger.CUSTOMER_CREATED)
    client = client_for(manager_membership)
    assert client.get(reverse("playbooks:edit", args=[playbook.pk])).status_code == 200
    client.post(reverse("playbooks:edit", args=[playbook.pk]), form_data(workspace))
    playbook.refresh_from_db()
    assert playbook.enabled is False


def test_the_detail_page_shows_the_preview_and_enabling_works(
    client_for, manager_membership, workspace, make_playbook, customer
):
    playbook = make_playbook(
        name="Trial check",
        trigger=Trigger.STAGE_UNCHANGED,
        trigger_days=1,
        enabled=False,
        conditions=[ConditionSpec(ConditionKind.STAGE_IS, phase=phase(workspace, "run"))],
    )
    CustomerFactory(workspace=workspace, phase=phase(workspace, "trial"))
    client = client_for(manager_membership)
    response = client.get(reverse("playbooks:detail", args=[playbook.pk]))
    assert response.status_code == 200
    assert response.context["preview"].count == 0  # Globex was created just now
    client.post(reverse("playbooks:toggle", args=[playbook.pk]), {"enabled": "1"})
    playbook.refresh_from_db()
    assert playbook.enabled is True


def test_a_csm_reads_playbooks_but_cannot_change_them(client_for, csm_membership, workspace, make_playbook):
    playbook = make_playbook()
    client = client_for(csm_membership)
    assert client.get(reverse("playbooks:list")).status_code == 200
    page = client.get(reverse("playbooks:detail", args=[playbook.pk]))
    assert page.status_code == 200
    assert "You can only view this playbook" in page.content.decode()
    assert reverse("playbooks:edit", args=[playbook.pk]) not in page.content.decode()
    assert client.get(reverse("playbooks:create")).status_code == 403
    assert client.post(reverse("playbooks:create"), form_data(workspace)).status_code == 403
    assert client.get(reverse("playbooks:edit", args=[playbook.pk])).status_code == 403
    assert client.post(reverse("playbooks:toggle", args=[playbook.pk]), {"enabled": "0"}).status_code == 403
    assert client.post(reverse("playbooks:delete", args=[playbook.pk])).status_code == 403
    playbook.refresh_from_db()
    assert playbook.enabled is True


def test_another_workspace_sees_nothing(client_for, stranger_membership, make_playbook, customer):
    playbook = make_playbook()
    run = PlaybookRun.objects.create(
        workspace=playbook.workspace,
        playbook=playbook,
        customer=customer,
        trigger_key="x",
        started_at=customer.created_at,
    )
    client = client_for(stranger_membership)
    for url in (
        reverse("playbooks:detail", args=[playbook.pk]),
        reverse("playbooks:edit", args=[playbook.pk]),
        reverse("playbooks:run", args=[run.pk]),
    ):
        assert client.get(url).status_code == 404, url
    assert client.post(reverse("playbooks:delete", args=[playbook.pk])).status_code == 404
    assert (
        client.post(
            reverse("playbooks:run_manual", args=[playbook.pk, customer.pk]), {"token": "t"}
        ).status_code
        == 404
    )
    assert "Playbook" not in "".join(
        p.name for p in client.get(reverse("playbooks:list")).context["playbooks"]
    )


def test_a_csm_runs_a_manual_playbook_on_their_own_customer_once_per_click(
    client_for, csm_membership, make_playbook, customer
):
    playbook = make_playbook(name="Escalate")
    client = client_for(csm_membership)
    page = client.get(reverse("customers:detail", args=[customer.pk]))
    assert "Escalate" in page.content.decode()
    url = reverse("playbooks:run_manual", args=[playbook.pk, customer.pk])
    assert client.post(url, {"token": "click-1"}).status_code == 302
    assert client.post(url, {"token": "click-1"}).status_code == 302  # the same click, submitted twice
    [run] = PlaybookRun.objects.filter(playbook=playbook)
    assert run.triggered_by == csm_membership.user
    assert [tag.name for tag in customer.tags.all()] == ["Touched"]
    page = client.get(reverse("customers:detail", args=[customer.pk]))
    assert reverse("playbooks:run", args=[run.pk]) in page.content.decode()


def test_a_csm_cannot_run_a_playbook_on_someone_elses_customer(
    client_for, other_csm_membership, make_playbook, customer
):
    playbook = make_playbook()
    response = client_for(other_csm_membership).post(
        reverse("playbooks:run_manual", args=[playbook.pk, customer.pk]), {"token": "t"}
    )
    assert response.status_code == 403
    assert not PlaybookRun.objects.exists()


def test_a_manager_runs_a_manual_playbook_on_any_customer(
    client_for, manager_membership, make_playbook, customer
):
    playbook = make_playbook()
    client_for(manager_membership).post(
        reverse("playbooks:run_manual", args=[playbook.pk, customer.pk]), {"token": "t"}
    )
    assert PlaybookRun.objects.filter(playbook=playbook, customer=customer).exists()


def test_a_manual_run_refuses_unmet_conditions_and_trigger_playbooks(
    client_for, manager_membership, make_playbook, customer, workspace
):
    picky = make_playbook(
        name="Picky", conditions=[ConditionSpec(ConditionKind.STAGE_IS, phase=phase(workspace, "trial"))]
    )
    automatic = make_playbook(name="Auto", trigger=Trigger.CUSTOMER_CREATED)
    client = client_for(manager_membership)
    response = client.post(
        reverse("playbooks:run_manual", args=[picky.pk, customer.pk]), {"token": "t"}, follow=True
    )
    assert "does not meet the conditions" in response.content.decode()
    response = client.post(
        reverse("playbooks:run_manual", args=[automatic.pk, customer.pk]), {"token": "t"}, follow=True
    )
    assert "not by hand" in response.content.decode()
    assert not PlaybookRun.objects.exists()


# ---- My actions -------------------------------------------------------------------------------------------


def test_my_actions_lists_my_open_tasks_with_their_playbook_and_marks_them_done(
    client_for, csm_membership, manager_membership, make_playbook, customer
):
    from playbooks.services import playbook_run_start

    playbook = make_playbook(
        name="Renewal prep",
        actions=[
            ActionSpec(
                kind=ActionKind.CREATE_TASK,
                assign_to_owner=True,
                task_title="Call the sponsor",
                due_in_days=2,
            )
        ],
    )
    playbook_run_start(playbook=playbook, customer_id=customer.pk, trigger_key="k")
    Task.objects.create(
        workspace=customer.workspace, customer=customer, assignee=manager_membership.user, title="Not mine"
    )
    client = client_for(csm_membership)
    page = client.get(reverse("playbooks:my_actions"))
    body = page.content.decode()
    assert "Call the sponsor" in body and "Renewal prep" in body and "Globex" in body
    assert "Not mine" not in body
    task = Task.objects.get(title="Call the sponsor")
    response = client.post(reverse("playbooks:task_done", args=[task.pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "Done" in response.content.decode()
    task.refresh_from_db()
    assert task.done_by == csm_membership.user
    assert "Call the sponsor" not in client.get(reverse("playbooks:my_actions")).context["tasks"].__repr__()


def test_a_csm_cannot_close_someone_elses_task_on_someone_elses_customer(
    client_for, other_csm_membership, manager_membership, customer
):
    task = Task.objects.create(
        workspace=customer.workspace, customer=customer, assignee=manager_membership.user, title="T"
    )
    assert (
        client_for(other_csm_membership).post(reverse("playbooks:task_done", args=[task.pk])).status_code
        == 403
    )
    task.refresh_from_db()
    assert task.done_at is None


def test_a_user_adds_a_task_on_their_customer(client_for, csm_membership, customer):
    client = client_for(csm_membership)
    assert client.post(reverse("playbooks:task_create", args=[customer.pk]), {"title": ""}).status_code == 400
    response = client.post(
        reverse("playbooks:task_create", args=[customer.pk]),
        {"title": "Send the deck", "due_on": "2030-01-02"},
    )
    assert response.status_code == 302
    task = Task.objects.get()
    assert (task.assignee, task.created_by, str(task.due_on)) == (
        csm_membership.user,
        csm_membership.user,
        "2030-01-02",
    )


def test_the_run_page_says_what_each_action_did(client_for, csm_membership, make_playbook, customer):
    from playbooks.services import playbook_run_start

    playbook = make_playbook(name="Tagger")
    run = playbook_run_start(
        playbook=playbook, customer_id=customer.pk, trigger_key="k", trigger_detail="Stage changed"
    )
    body = client_for(csm_membership).get(reverse("playbooks:run", args=[run.pk])).content.decode()
    assert "Add the tag Touched" in body and "Tag Touched added." in body and "Stage changed" in body
    listing = client_for(csm_membership).get(reverse("playbooks:list")).content.decode()
    assert "Tagger" in listing
    detail = client_for(csm_membership).get(reverse("playbooks:detail", args=[playbook.pk])).content.decode()
    assert reverse("playbooks:run", args=[run.pk]) in detail


def test_the_form_page_opens_for_a_new_and_an_existing_playbook(client_for, admin_membership, make_playbook):
    playbook = make_playbook(conditions=[ConditionSpec(ConditionKind.NO_OWNER)])
    client = client_for(admin_membership)
    assert client.get(reverse("playbooks:create")).status_code == 200
    page = client.get(reverse("playbooks:edit", args=[playbook.pk]))
    assert page.status_code == 200
    assert page.context["conditions"].forms[0].initial["kind"] == ConditionKind.NO_OWNER
