import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from customers.imports import MAX_FILE_BYTES
from customers.models import Customer, CustomField, Phase
from customers.services import custom_field_create
from tests.factories import CustomerFactory, phase

PHASES = reverse("customers:phases")
FIELDS = reverse("customers:custom_fields")
IMPORT = reverse("customers:import")


def action(row: Phase, name: str) -> str:
    return reverse("customers:phase_action", args=[row.pk, name])


def order(workspace) -> list[str]:
    return list(Phase.objects.filter(workspace=workspace).values_list("technical_name", flat=True))


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


# ---- phases --------------------------------------------------------------------------------------


def test_the_phases_page_lists_phases_in_order_with_their_customer_count(
    client_for, admin_membership, workspace
):
    CustomerFactory.create_batch(2, workspace=workspace)  # in "run"
    client = client_for(admin_membership)
    response = client.get(PHASES)
    assert response.status_code == 200
    rows = list(response.context["phases"])
    assert [row.technical_name for row in rows] == ["trial", "onboarding", "run", "churn"]
    assert {row.technical_name: row.customer_count for row in rows}["run"] == 2
    body = response.content.decode()
    assert "Default" in body and "Add a phase" in body
    assert response.context["settings_tab"] == "phases"


def test_the_phases_page_counts_customers_without_a_query_per_phase(client_for, admin_membership, workspace):
    client = client_for(admin_membership)
    with CaptureQueriesContext(connection) as before:
        client.get(PHASES)
    for n in range(3):
        Phase.objects.create(
            workspace=workspace, technical_name=f"extra{n}", label=f"Extra {n}", position=10 + n
        )
    with CaptureQueriesContext(connection) as after:
        client.get(PHASES)
    assert len(after) == len(before)


def test_an_admin_adds_a_phase_and_the_technical_name_can_come_from_the_label(
    client_for, admin_membership, workspace
):
    client = client_for(admin_membership)
    response = client.post(PHASES, {"label": "Expansion", "technical_name": "expansion"})
    assert response.status_code == 302
    response = client.post(PHASES, {"label": "At risk", "technical_name": ""}, follow=True)
    assert "Phase 'At risk' added." in messages_of(response)
    assert order(workspace)[-2:] == ["expansion", "at_risk"]


def test_a_duplicate_or_invalid_phase_is_refused_and_what_was_typed_is_kept(client_for, admin_membership):
    client = client_for(admin_membership)
    response = client.post(PHASES, {"label": "Trial again", "technical_name": "trial"})
    assert response.status_code == 200
    assert "A phase named &#x27;trial&#x27; already exists." in response.content.decode()
    assert 'value="Trial again"' in response.content.decode()
    response = client.post(PHASES, {"label": "Bad", "technical_name": "not a slug!"})
    assert response.context["form"].errors["technical_name"]


def test_an_admin_renames_reorders_and_sets_the_default_phase(client_for, admin_membership, workspace):
    client = client_for(admin_membership)
    run = phase(workspace, "run")
    assert client.post(action(run, "rename"), {"label": "Live"}).status_code == 302
    client.post(action(run, "up"))
    assert order(workspace) == ["trial", "run", "onboarding", "churn"]
    client.post(action(run, "down"))
    client.post(action(run, "down"))
    assert order(workspace) == ["trial", "onboarding", "churn", "run"]
    client.post(action(run, "default"))
    run.refresh_from_db()
    assert (run.label, run.is_default) == ("Live", True)
    assert not phase(workspace, "onboarding").is_default


def test_an_empty_label_is_refused_with_a_message(client_for, admin_membership, workspace):
    run = phase(workspace, "run")
    response = client_for(admin_membership).post(action(run, "rename"), {"label": "  "}, follow=True)
    assert "'Run' was not renamed" in messages_of(response)[0]
    run.refresh_from_db()
    assert run.label == "Run"


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("churn", "can be renamed but not removed"),
        ("onboarding", "Choose another default"),
        ("run", "move them first"),
    ],
)
def test_a_phase_that_is_churn_default_or_in_use_cannot_be_removed(
    client_for, admin_membership, workspace, name, reason
):
    CustomerFactory.create(workspace=workspace)  # in "run"
    response = client_for(admin_membership).post(action(phase(workspace, name), "delete"), follow=True)
    assert reason in messages_of(response)[0]
    assert name in order(workspace)


def test_an_unused_phase_is_removed(client_for, admin_membership, workspace):
    response = client_for(admin_membership).post(action(phase(workspace, "trial"), "delete"), follow=True)
    assert "Phase 'Trial' removed." in messages_of(response)
    assert "trial" not in order(workspace)


def test_phase_actions_are_post_only_and_unknown_actions_are_404(client_for, admin_membership, workspace):
    client = client_for(admin_membership)
    trial = phase(workspace, "trial")
    assert client.get(action(trial, "delete")).status_code == 405
    assert client.post(action(trial, "explode")).status_code == 404


def test_a_phase_of_another_workspace_is_not_found(client_for, admin_membership, other_workspace):
    foreign = phase(other_workspace, "trial")
    assert client_for(admin_membership).post(action(foreign, "delete")).status_code == 404
    assert Phase.objects.filter(pk=foreign.pk).exists()


def test_a_manager_reads_the_phases_but_cannot_change_them(client_for, manager_membership, workspace):
    client = client_for(manager_membership)
    response = client.get(PHASES)
    assert response.status_code == 200
    assert "Add a phase" not in response.content.decode()
    assert client.post(PHASES, {"label": "X", "technical_name": "x"}).status_code == 403
    assert client.post(action(phase(workspace, "trial"), "delete")).status_code == 403
    assert "x" not in order(workspace) and "trial" in order(workspace)


def test_a_csm_does_not_see_the_phase_settings(client_for, csm_membership, workspace):
    client = client_for(csm_membership)
    assert client.get(PHASES).status_code == 404
    assert client.post(action(phase(workspace, "trial"), "delete")).status_code == 404


# ---- custom fields -------------------------------------------------------------------------------


def test_an_admin_adds_a_choice_field_and_sees_it_listed(client_for, admin_membership, workspace):
    client = client_for(admin_membership)
    response = client.post(
        FIELDS,
        {
            "target": "customer",
            "label": "Plan tier",
            "key": "",
            "type": "choice",
            "choices": "Gold\n\nSilver\nGold\n",
        },
        follow=True,
    )
    assert "Customer field 'Plan tier' added." in messages_of(response)
    field = CustomField.objects.get(workspace=workspace)
    assert (field.key, field.type, field.choices) == ("plan_tier", "choice", ["Gold", "Silver"])
    assert "plan_tier" in response.content.decode()


def test_custom_field_errors_are_shown_on_the_form(client_for, admin_membership, workspace):
    custom_field_create(workspace=workspace, target="contact", key="nickname", label="Nickname", type="text")
    client = client_for(admin_membership)
    response = client.post(FIELDS, {"target": "customer", "label": "Tier", "key": "tier", "type": "choice"})
    assert response.context["form"].errors["choices"] == [
        "A choice field needs at least one choice (one per line)."
    ]
    response = client.post(FIELDS, {"target": "contact", "label": "Nick", "key": "nickname", "type": "text"})
    assert "already exists" in response.context["form"].errors["key"][0]
    response = client.post(FIELDS, {"target": "customer", "label": "Domain", "key": "domain", "type": "text"})
    assert "built-in customer column" in response.context["form"].errors["key"][0]
    assert 'value="Domain"' in response.content.decode()
    assert CustomField.objects.filter(workspace=workspace).count() == 1


def test_removing_a_field_keeps_the_stored_values(client_for, admin_membership, workspace):
    field = custom_field_create(workspace=workspace, target="customer", key="tier", label="Tier", type="text")
    customer = CustomerFactory.create(workspace=workspace, custom_values={"tier": "Gold"})
    client = client_for(admin_membership)
    assert "values already stored are kept" in client.get(FIELDS).content.decode()
    response = client.post(reverse("customers:custom_field_delete", args=[field.pk]), follow=True)
    assert "Values already stored are kept" in messages_of(response)[0]
    assert not CustomField.objects.filter(pk=field.pk).exists()
    customer.refresh_from_db()
    assert customer.custom_values == {"tier": "Gold"}


def test_a_manager_reads_custom_fields_but_cannot_change_them(client_for, manager_membership, workspace):
    field = custom_field_create(workspace=workspace, target="customer", key="tier", label="Tier", type="text")
    client = client_for(manager_membership)
    response = client.get(FIELDS)
    assert response.status_code == 200 and "Add a field" not in response.content.decode()
    assert (
        client.post(FIELDS, {"target": "customer", "label": "X", "key": "x", "type": "text"}).status_code
        == 403
    )
    assert client.post(reverse("customers:custom_field_delete", args=[field.pk])).status_code == 403
    assert CustomField.objects.filter(workspace=workspace).count() == 1


def test_a_csm_does_not_see_custom_field_settings(client_for, csm_membership, workspace):
    field = custom_field_create(workspace=workspace, target="customer", key="tier", label="Tier", type="text")
    client = client_for(csm_membership)
    assert client.get(FIELDS).status_code == 404
    assert client.post(reverse("customers:custom_field_delete", args=[field.pk])).status_code == 404


def test_a_custom_field_of_another_workspace_cannot_be_removed(client_for, admin_membership, other_workspace):
    foreign = custom_field_create(
        workspace=other_workspace, target="customer", key="t", label="T", type="text"
    )
    response = client_for(admin_membership).post(reverse("customers:custom_field_delete", args=[foreign.pk]))
    assert response.status_code == 404
    assert CustomField.objects.filter(pk=foreign.pk).exists()


# ---- import page ---------------------------------------------------------------------------------


def upload(text: str, name: str = "customers.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode(), content_type="text/csv")


def test_a_manager_imports_a_file_and_sees_the_counts_and_the_errors(
    client_for, manager_membership, workspace
):
    client = client_for(manager_membership)
    response = client.post(
        IMPORT, {"kind": "customers", "file": upload("name,customer_id,stage\nAcme,C-1,run\nBad,C-2,limbo\n")}
    )
    assert response.status_code == 200
    result = response.context["result"]
    assert (result.created, result.error_rows) == (1, 1)
    body = response.content.decode()
    assert "Unknown stage &#x27;limbo&#x27;" in body
    assert Customer.objects.filter(workspace=workspace, ref_id="C-1").exists()


def test_a_refused_file_is_explained_on_the_form(client_for, admin_membership):
    response = client_for(admin_membership).post(
        IMPORT, {"kind": "agreements", "file": upload("name\nAcme\n", "agreements.csv")}
    )
    assert response.context["result"] is None
    assert "Missing columns" in response.context["form"].errors["file"][0]
    assert response.context["form"]["kind"].value() == "agreements"


def test_an_oversized_upload_is_refused(client_for, admin_membership, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = None
    big = SimpleUploadedFile("big.csv", b"name\n" + b"x" * MAX_FILE_BYTES)
    response = client_for(admin_membership).post(IMPORT, {"kind": "customers", "file": big})
    assert "limit is 5 MB" in response.context["form"].errors["file"][0]


def test_a_csm_sees_why_they_cannot_import_and_a_post_is_refused(client_for, csm_membership, workspace):
    client = client_for(csm_membership)
    response = client.get(IMPORT)
    assert response.status_code == 200
    body = response.content.decode()
    assert "Only an Admin or a Manager can import files" in body
    assert 'enctype="multipart/form-data"' not in body
    response = client.post(IMPORT, {"kind": "customers", "file": upload("name\nSneaky\n")})
    assert response.status_code == 403
    assert not Customer.objects.filter(workspace=workspace, name="Sneaky").exists()


@pytest.mark.parametrize("kind", ["customers", "agreements"])
def test_any_member_downloads_a_sample_file(client_for, csm_membership, kind):
    response = client_for(csm_membership).get(reverse("customers:import_sample", args=[kind]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    assert len(response.content.decode().strip().splitlines()) == 2


def test_an_unknown_sample_is_not_found(client_for, csm_membership):
    assert (
        client_for(csm_membership).get(reverse("customers:import_sample", args=["invoices"])).status_code
        == 404
    )


def test_the_import_page_needs_a_login(client):
    assert client.get(IMPORT).status_code == 302
