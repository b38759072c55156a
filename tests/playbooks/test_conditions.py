"""Conditions on customer fields: all must match, in the passes, the preview and manual runs alike."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from customers.services import health_profile_get_or_create, tags_get_or_create
from playbooks.models import ConditionKind, Trigger
from playbooks.selectors import playbook_preview
from playbooks.services import ConditionSpec, playbook_save, unmet_conditions
from tests.factories import CustomerFactory, phase

pytestmark = pytest.mark.django_db


def matches(make_playbook, customer, *specs):
    from playbooks.models import Playbook

    playbook = make_playbook(name=f"P{Playbook.objects.count()}", conditions=specs)
    return unmet_conditions(playbook=playbook, customer=customer) == []


def test_each_condition_kind(make_playbook, customer, workspace, csm_membership, other_csm_membership):
    vip = tags_get_or_create(workspace=workspace, names=["VIP"])[0]
    smb = health_profile_get_or_create(workspace=workspace, name="SMB")
    customer.tags.add(vip)
    customer.health_profile = smb
    customer.active_mrr = Decimal("500")
    customer.health_score = 4
    customer.csm_pulse, customer.csm_pulse_at = 2, timezone.now()
    customer.save()
    run, trial = phase(workspace, "run"), phase(workspace, "trial")
    cases = [
        (ConditionSpec(ConditionKind.STAGE_IS, phase=run), True),
        (ConditionSpec(ConditionKind.STAGE_IS, phase=trial), False),
        (ConditionSpec(ConditionKind.STAGE_IS_NOT, phase=trial), True),
        (ConditionSpec(ConditionKind.OWNER_IS, user=csm_membership.user), True),
        (ConditionSpec(ConditionKind.OWNER_IS_NOT, user=other_csm_membership.user), True),
        (ConditionSpec(ConditionKind.NO_OWNER), False),
        (ConditionSpec(ConditionKind.HAS_TAG, tag=vip), True),
        (ConditionSpec(ConditionKind.HAS_NOT_TAG, tag=vip), False),
        (ConditionSpec(ConditionKind.PROFILE_IS, profile=smb), True),
        (ConditionSpec(ConditionKind.PROFILE_IS_NOT, profile=smb), False),
        (ConditionSpec(ConditionKind.MRR_GTE, number=Decimal("500")), True),
        (ConditionSpec(ConditionKind.MRR_LTE, number=Decimal("499.99")), False),
        (ConditionSpec(ConditionKind.HEALTH_LTE, number=Decimal("4")), True),
        (ConditionSpec(ConditionKind.HEALTH_GTE, number=Decimal("5")), False),
        (ConditionSpec(ConditionKind.NO_HEALTH), False),
        (ConditionSpec(ConditionKind.PULSE_LTE, number=Decimal("2")), True),
        (ConditionSpec(ConditionKind.PULSE_GTE, number=Decimal("3")), False),
        (ConditionSpec(ConditionKind.NO_PULSE), False),
    ]
    for spec, expected in cases:
        assert matches(make_playbook, customer, spec) is expected, spec


def test_a_pulse_older_than_90_days_counts_as_missing(make_playbook, customer):
    customer.csm_pulse, customer.csm_pulse_at = 1, timezone.now() - dt.timedelta(days=91)
    customer.save()
    assert matches(make_playbook, customer, ConditionSpec(ConditionKind.NO_PULSE))
    assert not matches(make_playbook, customer, ConditionSpec(ConditionKind.PULSE_LTE, number=Decimal("5")))


def test_all_conditions_must_match_and_unmet_ones_are_named(make_playbook, customer, workspace):
    playbook = make_playbook(
        conditions=[
            ConditionSpec(ConditionKind.STAGE_IS, phase=phase(workspace, "run")),
            ConditionSpec(ConditionKind.HEALTH_LTE, number=Decimal("3")),
        ]
    )
    assert unmet_conditions(playbook=playbook, customer=customer) == ["Health score is at most 3"]


def test_stage_is_not_includes_customers_without_a_stage(make_playbook, workspace):
    stageless = CustomerFactory(workspace=workspace, phase=None)
    assert matches(
        make_playbook, stageless, ConditionSpec(ConditionKind.STAGE_IS_NOT, phase=phase(workspace, "churn"))
    )


def test_a_condition_whose_tag_was_deleted_matches_nobody(make_playbook, customer, workspace):
    tag = tags_get_or_create(workspace=workspace, names=["Temp"])[0]
    playbook = make_playbook(conditions=[ConditionSpec(ConditionKind.HAS_NOT_TAG, tag=tag)])
    tag.delete()
    assert unmet_conditions(playbook=playbook, customer=customer) == [
        "Does not have the tag (a deleted tag: this condition matches nobody)"
    ]


def test_the_preview_lists_matching_customers_for_event_triggers(make_playbook, customer, workspace):
    other = CustomerFactory(workspace=workspace, phase=phase(workspace, "trial"))
    CustomerFactory(workspace=workspace, phase=phase(workspace, "trial"))  # noqa: F841
    playbook = make_playbook(
        trigger=Trigger.STAGE_CHANGED,
        enabled=False,
        conditions=[ConditionSpec(ConditionKind.STAGE_IS, phase=phase(workspace, "trial"))],
    )
    preview = playbook_preview(playbook=playbook)
    assert preview.count == 2
    assert other in preview.customers and customer not in preview.customers


def test_the_preview_of_a_time_trigger_lists_who_would_enter_now(make_playbook, customer, workspace):
    CustomerFactory(workspace=workspace, health_score=8)
    customer.health_score = 2
    customer.save()
    playbook = make_playbook(trigger=Trigger.HEALTH_BELOW, trigger_score=3, enabled=False)
    preview = playbook_preview(playbook=playbook)
    assert preview.customers == [customer]


def test_bad_rows_are_refused_with_a_clear_message(
    workspace, manager_membership, stranger_membership, other_workspace
):
    with pytest.raises(ValidationError) as error:
        playbook_save(
            workspace=workspace,
            user=manager_membership.user,
            name="Bad",
            trigger=Trigger.STAGE_UNCHANGED,
            conditions=[
                ConditionSpec(ConditionKind.HEALTH_LTE, number=Decimal("11")),
                ConditionSpec(ConditionKind.STAGE_IS, phase=phase(other_workspace, "run")),
                ConditionSpec(ConditionKind.OWNER_IS, user=stranger_membership.user),
            ],
            actions=[],
        )
    messages = error.value.message_dict
    assert messages["trigger_days"] == ["This trigger needs a number of days from 1 to 3650."]
    assert messages["conditions"] == [
        "Condition 1: the number must be from 1 to 10.",
        "Condition 2: that stage belongs to another workspace.",
        f"Condition 3: {stranger_membership.user} is not a member of this workspace.",
    ]
    assert messages["actions"] == ["A playbook needs at least one action."]
