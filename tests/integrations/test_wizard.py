"""The setup wizard: blocks built from what the connector declares, the CRM's fields read live (with a
retry when the CRM errs), validation that loses nothing, saving through object_setting_update, then a plan."""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import ClassVar

import pytest
from django.core.cache import cache
from django.urls import reverse

from customers.models import CustomField, HealthProfile, Phase
from integrations.base import (
    CHURN_ON_ABSENCE,
    INTERACTION_KINDS,
    MERGE_KEYS,
    Connector,
    ConnectorError,
    CrmField,
    OAuthSpec,
    ObjectSpec,
    Option,
)
from integrations.models import (
    Connection,
    FieldMapping,
    ObjectSetting,
    ObjectType,
    SyncMode,
    SyncRun,
    SyncState,
)
from integrations.services import setting_config_hash
from integrations.sync import state_for
from tests.factories import WorkspaceFactory

pytestmark = pytest.mark.django_db

IN, TWO, OUT, OFF = SyncMode.INPUT, SyncMode.TWO_WAYS, SyncMode.OUTPUT, SyncMode.DISABLED


class WizardCrm(Connector):
    """A CRM as the wizard sees it: declarations plus fields and choices, no HTTP."""

    key = "hubspot"
    label = "Acme CRM"
    oauth = OAuthSpec("auth_url", "/authorize", "api_url", "/token", ("all",))
    creates_output_fields = False
    objects: ClassVar = {
        ObjectType.CUSTOMERS: ObjectSpec(ObjectType.CUSTOMERS, "companies", (IN, TWO, OFF), IN),
        ObjectType.CONTACTS: ObjectSpec(ObjectType.CONTACTS, "contacts", (IN, TWO, OFF), IN),
        ObjectType.AGREEMENTS: ObjectSpec(ObjectType.AGREEMENTS, "deals", (IN, OFF), OFF),
        ObjectType.INTERACTIONS: ObjectSpec(ObjectType.INTERACTIONS, "engagements", (IN, TWO, OUT, OFF), OFF),
    }
    options: ClassVar = {
        ObjectType.CUSTOMERS: (
            Option("selection.view", "Company view", kind="choice", choices_from="views"),
            CHURN_ON_ABSENCE,
            MERGE_KEYS,
        ),
        ObjectType.AGREEMENTS: (
            Option("pipelines", "Pipelines", kind="multichoice", choices_from="pipelines"),
        ),
        ObjectType.INTERACTIONS: (INTERACTION_KINDS,),
    }
    block_warnings: ClassVar = {ObjectType.INTERACTIONS: "Meetings appear twice if a calendar is connected."}
    failing = False
    calls = 0

    def list_fields(self, object_type):
        WizardCrm.calls += 1
        if WizardCrm.failing:
            raise ConnectorError("Acme CRM answered HTTP 503: maintenance", status=503)
        return [
            CrmField("name", "Company name"),
            CrmField("website", "Website"),
            CrmField("stage", "Stage", "enumeration", (("cust", "Customer"), ("gone", "Former customer"))),
            CrmField("segment", "Segment"),
            CrmField("computed", "Computed score", "number", writable=False),
            CrmField("email", "Email"),
            CrmField("role", "Role"),
            CrmField("amount", "Amount", "number"),
            CrmField("closed", "Close date", "date"),
            CrmField("hs_score", "Skalin Healthscore", "number"),
        ]

    def list_choices(self, kind):
        if kind == "views":
            return [("v1", "Active customers"), ("v2", "Everyone")]
        if kind == "pipelines":
            return [("p1", "Sales"), ("p2", "Renewals")]
        raise LookupError(kind)


@pytest.fixture(autouse=True)
def fake_crm(monkeypatch):
    cache.clear()
    WizardCrm.failing, WizardCrm.calls = False, 0
    monkeypatch.setattr("integrations.services.connector_class", lambda crm: WizardCrm)
    yield WizardCrm
    cache.clear()


@pytest.fixture
def conn(workspace, admin_membership):
    connection = Connection.objects.create(
        workspace=workspace, crm="hubspot", status=Connection.Status.ACTIVE, remote_account_id="acct-1",
        remote_user_email="admin@acme.test", owns_customer_id=True,
    )  # fmt: skip
    from integrations.services import settings_create_defaults

    settings_create_defaults(connection=connection)
    Phase.objects.get_or_create(
        workspace=workspace, technical_name="onboarding", defaults={"label": "Onboarding"}
    )
    HealthProfile.objects.get_or_create(workspace=workspace, name="Enterprise")
    return connection


def valid_post(**overrides):
    data = {
        "customers-present": "1",
        "customers-mode": "input",
        "customers-opt-selection__view": "v1",
        "customers-opt-merge_keys": ["ref_id", "name", "domain"],
        "customers-map-name-remote": "name",
        "customers-map-name-direction": "input",
        "customers-map-domain-remote": "website",
        "customers-map-domain-direction": "input",
        "customers-map-ref_id-remote": "@id",
        "customers-map-ref_id-direction": "input",
        "customers-map-phase-remote": "stage",
        "customers-map-phase-direction": "input",
        "customers-map-phase-crm": ["cust", "gone"],
        "customers-map-phase-local": ["onboarding", ""],
        "contacts-present": "1",
        "contacts-mode": "input",
        "contacts-map-email-remote": "email",
        "contacts-map-email-direction": "input",
        "contacts-map-role__champion-remote": "role",
        "contacts-map-role__champion-values": "champion, ambassador",
        "agreements-present": "1",
        "agreements-mode": "disabled",
        "interactions-present": "1",
        "interactions-mode": "input",
        "interactions-opt-kinds": ["email", "call"],
        "data-present": "1",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def block_html(client, conn, block, **params):
    return client.get(reverse("integrations:setup_block", args=[conn.pk, block]), params).content.decode()


def test_the_wizard_page_lists_every_block_loaded_lazily(client_for, admin_membership, conn):
    page = client_for(admin_membership).get(reverse("integrations:setup", args=[conn.pk])).content.decode()
    for label in ("Customers", "Contacts", "Agreements", "Interactions", "Data transfer to the CRM"):
        assert label in page
    assert page.count('hx-trigger="load"') == 1
    assert "first sync" in page
    assert WizardCrm.calls == 0  # the CRM is read after the page, not by it
    blocks = client_for(admin_membership).get(reverse("integrations:setup_blocks", args=[conn.pk])).content
    for key in ("customers", "contacts", "agreements", "interactions", "data"):
        assert f'name="{key}-present"'.encode() in blocks


def test_a_block_offers_only_the_modes_the_crm_allows(client_for, admin_membership, conn):
    client = client_for(admin_membership)
    agreements = block_html(client, conn, "agreements")
    assert 'value="input"' in agreements and 'value="disabled"' in agreements
    assert 'value="two_ways"' not in agreements and 'value="output"' not in agreements
    interactions = block_html(client, conn, "interactions")
    assert 'value="output"' in interactions
    assert "Meetings appear twice" in interactions


def test_field_pickers_list_the_crms_real_fields_and_picklist_values(client_for, admin_membership, conn):
    FieldMapping.objects.create(
        object_setting=conn.object_settings.get(object_type="customers"),
        local_field="phase",
        remote_field="stage",
    )
    html = block_html(client_for(admin_membership), conn, "customers")
    assert "Company name (name)" in html and "Website (website)" in html
    assert "Former customer" in html  # the stage field's values, each mapped to a phase
    assert "Active customers" in html  # the connector's picker, fed from the CRM
    assert "See more parameters" in html and "churn" in html.lower()


def test_a_crm_error_says_so_with_a_retry_and_keeps_what_was_typed(client_for, admin_membership, conn):
    client = client_for(admin_membership)
    WizardCrm.failing = True
    html = block_html(client, conn, "customers")
    assert "Acme CRM could not list its fields" in html and "maintenance" in html
    assert ">Retry</button>" in html and "retry=1" in html
    WizardCrm.failing = False
    retried = block_html(
        client, conn, "customers", **{"retry": "1", "customers-present": "1", "customers-mode": "two_ways",
                                      "customers-map-name-remote": "website"}
    )  # fmt: skip
    assert "could not list" not in retried
    assert '<option value="two_ways" selected>' in retried
    assert '<option value="website" selected>' in retried


def test_fields_are_read_once_then_cached_until_a_retry(client_for, admin_membership, conn):
    client = client_for(admin_membership)
    block_html(client, conn, "contacts")
    block_html(client, conn, "contacts")
    assert WizardCrm.calls == 1
    block_html(client, conn, "contacts", retry="1")
    assert WizardCrm.calls == 2


def test_saving_stores_every_block_and_starts_a_plan(
    client_for, admin_membership, conn, django_capture_on_commit_callbacks, monkeypatch
):
    queued = []
    monkeypatch.setattr(
        "integrations.tasks.sync_connection_task.delay", lambda *a, **k: queued.append((a, k))
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(admin_membership).post(
            reverse("integrations:setup", args=[conn.pk]), valid_post()
        )
    plan = SyncRun.objects.get(connection=conn)
    assert plan.dry_run and response.status_code == 302
    assert response["Location"] == reverse("integrations:run", args=[conn.pk, plan.pk])
    assert queued and queued[0][1].get("dry_run") is True
    customers = ObjectSetting.objects.get(connection=conn, object_type="customers")
    assert customers.options["selection"] == {"view": "v1"}
    maps = {m.local_field: m for m in customers.mappings.all()}
    assert maps["phase"].value_table == {"cust": "onboarding"}
    assert maps["ref_id"].remote_field == "@id"
    contacts = ObjectSetting.objects.get(connection=conn, object_type="contacts")
    role = contacts.mappings.get(local_field="role:champion")
    assert role.remote_field == "role" and role.value_table == {"champion": "yes", "ambassador": "yes"}
    interactions = ObjectSetting.objects.get(connection=conn, object_type="interactions")
    assert interactions.mode == "input" and interactions.options["kinds"] == ["email", "call"]


def test_saving_the_same_setup_again_plans_nothing(client_for, admin_membership, conn, monkeypatch):
    monkeypatch.setattr("integrations.tasks.sync_connection_task.delay", lambda *a, **k: None)
    client = client_for(admin_membership)
    client.post(reverse("integrations:setup", args=[conn.pk]), valid_post())
    SyncRun.objects.filter(connection=conn).update(
        dry_run=False, status="succeeded", finished_at="2026-01-01T00:00Z"
    )
    response = client.post(reverse("integrations:setup", args=[conn.pk]), valid_post(), follow=True)
    assert "Nothing that syncs has changed" in response.content.decode()
    assert SyncRun.objects.filter(connection=conn).count() == 1


def test_a_mode_the_crm_does_not_allow_is_refused(client_for, admin_membership, conn):
    response = client_for(admin_membership).post(
        reverse("integrations:setup", args=[conn.pk]), valid_post(**{"agreements-mode": "two_ways"})
    )
    html = response.content.decode()
    assert response.status_code == 200 and "Nothing was saved" in html
    assert "Choose one of: Input only, Disabled." in html
    assert ObjectSetting.objects.get(connection=conn, object_type="agreements").mode == "disabled"


def test_a_required_customer_field_left_empty_is_named_and_nothing_typed_is_lost(
    client_for, admin_membership, conn
):
    response = client_for(admin_membership).post(
        reverse("integrations:setup", args=[conn.pk]),
        valid_post(**{"customers-map-name-remote": "", "contacts-map-role__champion-values": "vip"}),
    )
    html = response.content.decode()
    assert "Customer name is required" in html
    assert 'value="vip"' in html and '<option value="website" selected>' in html
    assert not SyncRun.objects.exists()


def test_agreements_need_mrr_or_arr_and_an_amount_and_complete_terms(client_for, admin_membership, conn):
    response = client_for(admin_membership).post(
        reverse("integrations:setup", args=[conn.pk]),
        valid_post(**{
            "agreements-mode": "input", "agreements-end-mode": "duration", "agreements-notice-mode": "manual",
            "agreements-notice-value": "0", "agreements-notice-unit": "month", "agreements-tacit-rule": "field",
        }),
    )  # fmt: skip
    html = response.content.decode()
    assert "Say whether the CRM&#x27;s amounts are MRR or ARR." in html
    assert "Amount (MRR or ARR) is required" in html
    assert "Choose the CRM field holding the contract end." in html
    assert "Give a whole number greater than 0." in html
    assert "Choose the CRM field that says the contract renews tacitly." in html


def test_valid_agreements_are_saved_in_the_engines_shape(client_for, admin_membership, conn, monkeypatch):
    monkeypatch.setattr("integrations.tasks.sync_connection_task.delay", lambda *a, **k: None)
    client_for(admin_membership).post(
        reverse("integrations:setup", args=[conn.pk]),
        valid_post(**{
            "agreements-mode": "input", "agreements-amount_format": "arr",
            "agreements-map-amount-remote": "amount", "agreements-map-start_date-remote": "closed",
            "agreements-end-mode": "duration", "agreements-end-field": "amount", "agreements-end-unit": "month",
            "agreements-notice-mode": "manual", "agreements-notice-value": "3", "agreements-notice-unit": "month",
            "agreements-tacit-rule": "always",
        }),
    )  # fmt: skip
    setting = ObjectSetting.objects.get(connection=conn, object_type="agreements")
    assert setting.mode == "input" and setting.options["amount_format"] == "arr"
    assert setting.options["end"] == {"mode": "duration", "field": "amount", "unit": "month"}
    assert setting.options["notice"] == {"mode": "manual", "unit": "month", "value": 3}
    assert setting.options["tacit"] == {"rule": "always"}
    assert {m.local_field: m.remote_field for m in setting.mappings.all()} == {
        "amount": "amount", "start_date": "closed",
    }  # fmt: skip


def test_interactions_need_a_kind_and_a_read_only_field_cannot_be_pushed(client_for, admin_membership, conn):
    response = client_for(admin_membership).post(
        reverse("integrations:setup", args=[conn.pk]),
        valid_post(**{
            "interactions-opt-kinds": None,
            "customers-map-tags-remote": "computed", "customers-map-tags-direction": "two_ways",
        }),
    )  # fmt: skip
    html = response.content.decode()
    assert "Choose at least one kind of interaction" in html
    assert "does not let anyone write this field" in html


def test_data_transfer_needs_a_field_when_the_crm_does_not_create_one(
    client_for, admin_membership, conn, monkeypatch
):
    client = client_for(admin_membership)
    response = client.post(
        reverse("integrations:setup", args=[conn.pk]), valid_post(**{"data-health_score-on": "1"})
    )
    assert "Choose the Acme CRM field receiving the Healthscore" in response.content.decode()
    monkeypatch.setattr("integrations.tasks.sync_connection_task.delay", lambda *a, **k: None)
    client.post(
        reverse("integrations:setup", args=[conn.pk]),
        valid_post(**{"data-health_score-on": "1", "data-health_score-field": "hs_score"}),
    )
    data_back = ObjectSetting.objects.get(connection=conn, object_type="customers").options["data_back"]
    assert data_back["enabled"] is True and data_back["health_score"] == "hs_score"
    assert data_back["csm_pulse"] == ""


def test_a_block_switched_to_disabled_keeps_its_mapping(client_for, admin_membership, conn, monkeypatch):
    monkeypatch.setattr("integrations.tasks.sync_connection_task.delay", lambda *a, **k: None)
    client = client_for(admin_membership)
    client.post(reverse("integrations:setup", args=[conn.pk]), valid_post())
    html = block_html(client, conn, "contacts", **{"contacts-present": "1", "contacts-mode": "disabled",
                                                   "contacts-map-email-remote": "email"})  # fmt: skip
    assert "its settings below are kept" in html and '<option value="email" selected>' in html


def test_a_manager_reads_the_wizard_but_cannot_save(client_for, manager_membership, conn):
    client = client_for(manager_membership)
    page = client.get(reverse("integrations:setup", args=[conn.pk])).content.decode()
    assert "disabled" in page and "Save and preview" not in page
    assert client.get(reverse("integrations:setup_block", args=[conn.pk, "customers"])).status_code == 200
    assert client.post(reverse("integrations:setup", args=[conn.pk]), valid_post()).status_code == 403


def test_a_csm_and_another_workspace_get_404(client_for, csm_membership, stranger_membership, conn):
    for membership in (csm_membership, stranger_membership):
        client = client_for(membership)
        assert client.get(reverse("integrations:setup", args=[conn.pk])).status_code == 404
        assert client.get(reverse("integrations:setup_block", args=[conn.pk, "customers"])).status_code == 404
        assert client.post(reverse("integrations:setup", args=[conn.pk]), valid_post()).status_code == 404


def test_an_unknown_block_is_not_found(client_for, admin_membership, conn):
    assert (
        client_for(admin_membership).get(reverse("integrations:setup_block", args=[conn.pk, "x"])).status_code
        == 404
    )


def test_the_connection_page_offers_the_why_lookup_and_push_now(client_for, admin_membership, conn):
    html = (
        client_for(admin_membership).get(reverse("integrations:connection", args=[conn.pk])).content.decode()
    )
    assert reverse("integrations:why", args=[conn.pk]) in html
    assert "Push Skalin values to the CRM now" in html and "Connected CRM user" in html
    assert "Delete</button>" not in html  # only once disabled


def test_a_running_run_polls_its_progress_and_a_finished_plan_offers_apply(
    client_for, admin_membership, conn
):
    client = client_for(admin_membership)
    running = SyncRun.objects.create(
        connection=conn, status="running", progress={"object": "customers", "pages": 3, "records": 250}
    )
    html = client.get(
        reverse("integrations:run", args=[conn.pk, running.pk]), HTTP_HX_REQUEST="true"
    ).content.decode()
    assert 'hx-trigger="every 2s"' in html and "3 pages read, 250 records" in html
    running.status, running.dry_run = "succeeded", True
    running.plan = {"customers": {"create": [{"external_id": "42", "label": "Acme"}]}}
    running.by_object = {"customers": {"created": 1}}
    running.save()
    html = client.get(reverse("integrations:run", args=[conn.pk, running.pk])).content.decode()
    assert "every 2s" not in html and "Apply: start the sync" in html and "Acme" in html


# ---- merge fields: the workspace's custom fields, in the Admin's order --------------------------------------

MERGE = "customers-opt-merge_keys"


@pytest.fixture
def old_crm_id(workspace):
    return CustomField.objects.create(
        workspace=workspace, target=CustomField.Target.CUSTOMER, key="old_crm_id", label="Old CRM ID"
    )


def merge_keys_posted_by(html):
    """What the browser would send for the merge fields: the ticked boxes, in the page's order."""
    inputs = re.findall(rf'<input type="checkbox" name="{MERGE}" value="([^"]+)"[^>]*>', html)
    ticked = re.findall(rf'<input type="checkbox" name="{MERGE}" value="([^"]+)"[^>]* checked[ >]', html)
    return [value for value in inputs if value in ticked]


def saved_merge_keys(conn):
    """The stored merge keys; None while the block still runs on the engine's default."""
    return ObjectSetting.objects.get(connection=conn, object_type="customers").options.get("merge_keys")


def with_old_crm_id_read(**overrides):
    return valid_post(**{"customers-map-custom__old_crm_id-remote": "segment",
                         "customers-map-custom__old_crm_id-direction": "input", **overrides})  # fmt: skip


def test_the_merge_fields_offer_the_workspaces_customer_custom_fields_that_identify_a_customer(
    client_for, admin_membership, conn, workspace, old_crm_id
):
    CustomField.objects.create(
        workspace=workspace, target="customer", key="siren", label="SIREN", type="number"
    )
    CustomField.objects.create(workspace=workspace, target="customer", key="vip", label="VIP", type="boolean")
    CustomField.objects.create(workspace=workspace, target="contact", key="badge", label="Badge")
    CustomField.objects.create(workspace=WorkspaceFactory(), target="customer", key="theirs", label="Theirs")
    html = block_html(client_for(admin_membership), conn, "customers")
    assert merge_keys_posted_by(html) == ["ref_id", "name", "domain"]  # the default, in its order
    assert f'name="{MERGE}" value="custom:old_crm_id"' in html and "Old CRM ID (custom field)" in html
    assert f'name="{MERGE}" value="custom:siren"' in html
    for other in ("custom:vip", "custom:badge", "custom:theirs"):  # yes/no, a contact's, another workspace's
        assert f'value="{other}"' not in html.split(MERGE, 1)[1].split("</fieldset>", 1)[0]


def test_merge_fields_are_saved_in_the_order_chosen_and_shown_in_it_again(
    client_for, admin_membership, conn, old_crm_id, monkeypatch
):
    monkeypatch.setattr("integrations.tasks.sync_connection_task.delay", lambda *a, **k: None)
    client = client_for(admin_membership)
    response = client.post(
        reverse("integrations:setup", args=[conn.pk]),
        with_old_crm_id_read(**{MERGE: ["custom:old_crm_id", "domain", "name"]}),
    )
    assert response.status_code == 302
    assert saved_merge_keys(conn) == ["custom:old_crm_id", "domain", "name"]
    html = block_html(client, conn, "customers")
    assert merge_keys_posted_by(html) == ["custom:old_crm_id", "domain", "name"]


def test_a_custom_merge_key_set_outside_the_page_survives_saving_the_page_as_shown(
    client_for, admin_membership, conn, old_crm_id, monkeypatch
):
    """The migration assistant stores custom:old_crm_id first; an Admin saving the wizard keeps it."""
    monkeypatch.setattr("integrations.tasks.sync_connection_task.delay", lambda *a, **k: None)
    setting = conn.object_settings.get(object_type="customers")
    setting.options = {**setting.options, "merge_keys": ["custom:old_crm_id", "name", "domain"]}
    setting.save()
    FieldMapping.objects.create(
        object_setting=setting, local_field="custom:old_crm_id", remote_field="segment"
    )
    client = client_for(admin_membership)
    shown = merge_keys_posted_by(block_html(client, conn, "customers"))
    assert shown == ["custom:old_crm_id", "name", "domain"]
    response = client.post(
        reverse("integrations:setup", args=[conn.pk]), with_old_crm_id_read(**{MERGE: shown})
    )
    assert response.status_code == 302
    assert saved_merge_keys(conn) == ["custom:old_crm_id", "name", "domain"]


def test_up_and_down_move_a_merge_field_and_keep_the_section_open(
    client_for, admin_membership, conn, old_crm_id
):
    client = client_for(admin_membership)
    typed = {
        "customers-present": "1",
        "customers-mode": "input",
        MERGE: ["ref_id", "name", "custom:old_crm_id"],
    }
    html = block_html(client, conn, "customers", **typed, **{f"{MERGE}-move": "up:custom:old_crm_id"})
    assert merge_keys_posted_by(html) == ["ref_id", "custom:old_crm_id", "name"]
    assert '<details class="wizard-more" open>' in html
    html = block_html(client, conn, "customers", **typed, **{f"{MERGE}-move": "down:ref_id"})
    assert merge_keys_posted_by(html) == ["name", "ref_id", "custom:old_crm_id"]
    # Past either end, a value not chosen, or a tick (which only redraws): the order stays.
    for move in ("up:ref_id", "down:custom:old_crm_id", "up:domain", "sideways:name", "tick:domain"):
        html = block_html(client, conn, "customers", **typed, **{f"{MERGE}-move": move})
        assert merge_keys_posted_by(html) == ["ref_id", "name", "custom:old_crm_id"], move
        assert '<details class="wizard-more" open>' in html, move
    # htmx sends the box just ticked first: it joins the chosen ones last.
    ticked = {
        **typed,
        MERGE: ["domain", "ref_id", "name", "custom:old_crm_id"],
        f"{MERGE}-move": "tick:domain",
    }
    html = block_html(client, conn, "customers", **ticked)
    assert merge_keys_posted_by(html) == ["ref_id", "name", "custom:old_crm_id", "domain"]
    assert '<details class="wizard-more" open>' in html
    untouched = block_html(client, conn, "customers", **typed)
    assert '<details class="wizard-more">' in untouched
    # Each button says what it moves; the first cannot go up, the last cannot go down.
    assert 'aria-label="Move Customer ID up" title="Try it earlier" aria-disabled="true"' in untouched
    assert (
        'aria-label="Move Old CRM ID (custom field) down" title="Try it later" aria-disabled="true"'
        in untouched
    )
    assert "&quot;customers-opt-merge_keys-move&quot;: &quot;up:custom:old_crm_id&quot;" in untouched


def test_a_merge_key_whose_custom_field_was_deleted_is_shown_refused_on_save_and_never_dropped(
    client_for, admin_membership, conn, workspace, monkeypatch
):
    monkeypatch.setattr("integrations.tasks.sync_connection_task.delay", lambda *a, **k: None)
    CustomField.objects.create(workspace=workspace, target="customer", key="vip", label="VIP", type="boolean")
    setting = conn.object_settings.get(object_type="customers")
    setting.options = {**setting.options, "merge_keys": ["custom:gone", "name", "custom:vip"]}
    setting.save()
    client = client_for(admin_membership)
    html = block_html(client, conn, "customers")
    assert merge_keys_posted_by(html) == ["custom:gone", "name", "custom:vip"]  # still ticked, in place
    assert "gone (custom field)" in html and "This custom field no longer exists" in html
    assert "A yes/no field cannot tell one customer from another" in html
    assert '<details class="wizard-more" open>' in html

    response = client.post(
        reverse("integrations:setup", args=[conn.pk]),
        valid_post(**{MERGE: ["custom:gone", "name", "custom:vip"]}),
    )
    html = response.content.decode()
    assert response.status_code == 200 and "Nothing was saved" in html
    assert "No longer available: “gone (custom field)”, “VIP (custom field)”." in html
    assert merge_keys_posted_by(html) == ["custom:gone", "name", "custom:vip"]
    assert saved_merge_keys(conn) == ["custom:gone", "name", "custom:vip"]

    response = client.post(reverse("integrations:setup", args=[conn.pk]), valid_post(**{MERGE: ["name"]}))
    assert response.status_code == 302 and saved_merge_keys(conn) == ["name"]


def test_no_merge_field_at_all_is_refused_with_a_reason(client_for, admin_membership, conn):
    response = client_for(admin_membership).post(
        reverse("integrations:setup", args=[conn.pk]), valid_post(**{MERGE: None})
    )
    html = response.content.decode()
    assert "Keep at least one merge field" in html and "Nothing was saved" in html
    assert saved_merge_keys(conn) is None  # nothing saved


def test_a_custom_merge_key_needs_a_crm_field_read_into_it(client_for, admin_membership, conn, old_crm_id):
    client = client_for(admin_membership)
    message = "“Old CRM ID (custom field)” can merge only once a Acme CRM field is read into it"
    unmapped = client.post(
        reverse("integrations:setup", args=[conn.pk]), valid_post(**{MERGE: ["custom:old_crm_id", "name"]})
    )
    assert message in unmapped.content.decode()
    pushed_only = client.post(
        reverse("integrations:setup", args=[conn.pk]),
        with_old_crm_id_read(
            **{MERGE: ["custom:old_crm_id"], "customers-map-custom__old_crm_id-direction": "output"}
        ),
    )
    assert message in pushed_only.content.decode()
    assert saved_merge_keys(conn) is None  # nothing saved


def test_a_disabled_customers_block_keeps_its_merge_fields_unchecked(
    client_for, admin_membership, conn, monkeypatch
):
    monkeypatch.setattr("integrations.tasks.sync_connection_task.delay", lambda *a, **k: None)
    response = client_for(admin_membership).post(
        reverse("integrations:setup", args=[conn.pk]),
        valid_post(**{"customers-mode": "disabled", MERGE: ["custom:gone", "name"]}),
    )
    assert response.status_code == 302 and saved_merge_keys(conn) == ["custom:gone", "name"]


def test_reordering_the_merge_fields_resets_the_customers_cursor(
    client_for, admin_membership, conn, old_crm_id, monkeypatch
):
    monkeypatch.setattr("integrations.tasks.sync_connection_task.delay", lambda *a, **k: None)
    client = client_for(admin_membership)
    client.post(reverse("integrations:setup", args=[conn.pk]), with_old_crm_id_read())
    SyncRun.objects.filter(connection=conn).update(
        dry_run=False, status="succeeded", finished_at="2026-01-01T00:00Z"
    )
    setting = conn.object_settings.get(object_type="customers")
    SyncState.objects.create(
        connection=conn, object_type="customers", cursor="2026-01-01T00:00:00+00:00",
        config_hash=setting_config_hash(setting),
    )  # fmt: skip
    again = client.post(reverse("integrations:setup", args=[conn.pk]), with_old_crm_id_read(), follow=True)
    assert "Nothing that syncs has changed" in again.content.decode()
    reordered = with_old_crm_id_read(**{MERGE: ["name", "ref_id", "domain"]})
    response = client.post(reverse("integrations:setup", args=[conn.pk]), reordered)
    assert response["Location"].startswith(reverse("integrations:connection", args=[conn.pk]) + "runs/")
    state = state_for(SimpleNamespace(connection=conn), conn.object_settings.get(object_type="customers"))
    assert state.cursor == ""  # the next run reads everything again, under the new order


def test_a_crm_choice_gone_from_the_crm_stays_ticked_with_why_until_unticked(
    client_for, admin_membership, conn, monkeypatch
):
    """Dropping it silently would turn "these pipelines" into "every pipeline" (none chosen means all)."""
    monkeypatch.setattr("integrations.tasks.sync_connection_task.delay", lambda *a, **k: None)
    setting = conn.object_settings.get(object_type="agreements")
    setting.options = {**setting.options, "pipelines": ["p1", "p9"]}
    setting.save()
    client = client_for(admin_membership)
    html = block_html(client, conn, "agreements")
    assert 'value="p9" checked' in html and "Acme CRM no longer offers it" in html
    agreements = {
        "agreements-mode": "input", "agreements-amount_format": "mrr", "agreements-map-amount-remote": "amount",
    }  # fmt: skip
    response = client.post(
        reverse("integrations:setup", args=[conn.pk]),
        valid_post(**agreements, **{"agreements-opt-pipelines": ["p1", "p9"]}),
    )
    assert "No longer available: “p9”." in response.content.decode()
    assert ObjectSetting.objects.get(pk=setting.pk).options["pipelines"] == ["p1", "p9"]
    client.post(
        reverse("integrations:setup", args=[conn.pk]),
        valid_post(**agreements, **{"agreements-opt-pipelines": ["p1"]}),
    )
    assert ObjectSetting.objects.get(pk=setting.pk).options["pipelines"] == ["p1"]
