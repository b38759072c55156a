import pytest

from customers.changes import Actor
from customers.services import customer_create
from playbooks import services
from playbooks.models import ActionKind, Trigger
from playbooks.services import ActionSpec


@pytest.fixture
def make_playbook(workspace, manager_membership):
    def make(
        *,
        name="Playbook",
        trigger=Trigger.MANUAL,
        conditions=(),
        actions=None,
        enabled=True,
        **params,
    ):
        if actions is None:
            actions = [ActionSpec(kind=ActionKind.ADD_TAG, new_tag_name="Touched")]
        result = services.playbook_save(
            workspace=workspace,
            user=manager_membership.user,
            name=name,
            trigger=trigger,
            conditions=list(conditions),
            actions=list(actions),
            **params,
        )
        if enabled:
            services.playbook_set_enabled(playbook=result.playbook, enabled=True)
        return result.playbook

    return make


@pytest.fixture
def new_customer(workspace, csm_membership):
    def create(name="Initech", **fields):
        return customer_create(
            workspace=workspace,
            actor=Actor.for_user(csm_membership.user),
            name=name,
            owner=csm_membership.user,
            **fields,
        )

    return create
