import pytest

from tests.factories import CustomerFactory, MembershipFactory, UserFactory, WorkspaceFactory
from tests.sandbox_settings import point_crms_at_sandbox
from workspaces.models import Role


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    # The real hashers are slow on purpose; tests only need passwords that check.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _plain_static_storage(settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture
def workspace(db):
    return WorkspaceFactory(name="Acme SaaS")


@pytest.fixture
def admin_membership(workspace):
    return MembershipFactory(workspace=workspace, role=Role.ADMIN, user=UserFactory(email="admin@acme.test"))


@pytest.fixture
def manager_membership(workspace):
    return MembershipFactory(
        workspace=workspace, role=Role.MANAGER, user=UserFactory(email="manager@acme.test")
    )


@pytest.fixture
def csm_membership(workspace):
    return MembershipFactory(workspace=workspace, role=Role.CSM, user=UserFactory(email="csm@acme.test"))


@pytest.fixture
def other_csm_membership(workspace):
    return MembershipFactory(workspace=workspace, role=Role.CSM, user=UserFactory(email="csm2@acme.test"))


@pytest.fixture
def customer(workspace, csm_membership):
    return CustomerFactory(workspace=workspace, owner=csm_membership.user, name="Globex")


@pytest.fixture
def other_workspace(db):
    return WorkspaceFactory(name="Rival Inc")


@pytest.fixture
def stranger_membership(other_workspace):
    return MembershipFactory(
        workspace=other_workspace, role=Role.ADMIN, user=UserFactory(email="admin@rival.test")
    )


@pytest.fixture
def client_for(client):
    def login(membership):
        client.force_login(membership.user)
        session = client.session
        session["workspace_id"] = membership.workspace_id
        session.save()
        return client

    return login


@pytest.fixture
def sandbox(settings, live_server):
    """Every CRM pointed at the sandbox the live server serves; the live server, for its URL."""
    point_crms_at_sandbox(settings, live_server.url)
    return live_server
