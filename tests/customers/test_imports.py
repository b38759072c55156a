import datetime as dt
from decimal import Decimal

import pytest

from agreements.models import Agreement, AgreementStatus, AmountPeriod, Interval
from customers.imports import (
    MAX_FILE_BYTES,
    ImportFileError,
    import_csv,
    parse_amount,
    parse_date,
    parse_interval,
    read_csv,
    sample_csv,
)
from customers.models import ChangeLog, Customer, CustomField
from customers.services import custom_field_create
from tests.factories import CustomerFactory, phase

TODAY = dt.date(2025, 6, 15)


def run(workspace, user, text: str, kind: str = "customers", *, bom: bool = False):
    data = text.encode("utf-8")
    if bom:
        data = b"\xef\xbb\xbf" + data
    return import_csv(workspace=workspace, user=user, kind=kind, filename="file.csv", data=data, today=TODAY)


def errors_of(result):
    return [(error.line, error.column) for error in result.errors]


@pytest.fixture
def admin(admin_membership):
    return admin_membership.user


# ---- customers -----------------------------------------------------------------------------------


def test_a_new_customer_is_created_with_every_column(workspace, admin, csm_membership):
    custom_field_create(
        workspace=workspace, target="customer", key="old_crm_id", label="Old CRM ID", type="text"
    )
    parent = CustomerFactory.create(workspace=workspace, name="Holding", ref_id="P-1")
    result = run(
        workspace,
        admin,
        "name,customer_id,domain,owner_email,stage,tags,health_profile,parent_customer_id,custom:old_crm_id\n"
        "Acme,C-1,https://www.acme.com/,CSM@acme.test,Trial,vip;beta|q3,SMB,P-1,0061\n",
    )
    assert (result.created, result.errors) == (1, [])
    acme = Customer.objects.get(workspace=workspace, ref_id="C-1")
    assert acme.domain == "acme.com"
    assert acme.owner == csm_membership.user
    assert acme.phase == phase(workspace, "trial")
    assert sorted(tag.name for tag in acme.tags.all()) == ["beta", "q3", "vip"]
    assert acme.health_profile is not None and acme.health_profile.name == "SMB"
    assert acme.parent == parent
    assert acme.custom_values == {"old_crm_id": "0061"}
    log = ChangeLog.objects.get(customer=acme, field="created")
    assert (log.actor_kind, log.actor_user, log.actor_label) == ("import", admin, "CSV import file.csv")


def test_a_row_updates_the_customer_with_its_customer_id(workspace, admin):
    existing = CustomerFactory.create(workspace=workspace, name="Old name", ref_id="C-1", domain="old.com")
    result = run(workspace, admin, "name,customer_id,domain\nNew name,C-1,new.com\n")
    assert (result.created, result.updated) == (0, 1)
    existing.refresh_from_db()
    assert (existing.name, existing.domain) == ("New name", "new.com")
    assert ChangeLog.objects.filter(customer=existing, field="name", actor_kind="import").exists()


def test_without_a_customer_id_the_row_updates_the_customer_with_that_exact_name(workspace, admin):
    existing = CustomerFactory.create(workspace=workspace, name="Globex", domain="")
    result = run(workspace, admin, "name,customer_id,domain\nGlobex,,globex.com\n")
    assert (result.created, result.updated) == (0, 1)
    existing.refresh_from_db()
    assert existing.domain == "globex.com"


def test_a_new_customer_id_is_given_to_the_customer_of_that_name_that_has_none(workspace, admin):
    existing = CustomerFactory.create(workspace=workspace, name="Globex")
    result = run(workspace, admin, "name,customer_id\nGlobex,C-9\n")
    assert result.updated == 1
    existing.refresh_from_db()
    assert existing.ref_id == "C-9"


def test_two_customers_with_the_same_name_are_never_picked_at_random(workspace, admin):
    CustomerFactory.create(workspace=workspace, name="Twin")
    CustomerFactory.create(workspace=workspace, name="Twin")
    result = run(workspace, admin, "name\nTwin\n")
    assert errors_of(result) == [(2, "name")]
    assert "customer_id" in result.errors[0].message


def test_blank_cells_keep_the_stored_values(workspace, admin, csm_membership):
    existing = CustomerFactory.create(
        workspace=workspace, name="Acme", ref_id="C-1", domain="acme.com", owner=csm_membership.user
    )
    result = run(workspace, admin, "name,customer_id,domain,owner_email,stage,tags\n,C-1,,,,\n")
    assert (result.unchanged, result.errors) == (1, [])
    existing.refresh_from_db()
    assert (existing.name, existing.domain, existing.owner, existing.phase) == (
        "Acme",
        "acme.com",
        csm_membership.user,
        phase(workspace, "run"),
    )


def test_bad_rows_are_reported_with_their_line_and_column_while_good_rows_land(workspace, admin):
    result = run(
        workspace,
        admin,
        "name,customer_id,owner_email,stage\n"
        "Good one,C-1,,\n"
        "Bad owner,C-2,nobody@elsewhere.test,\n"
        "\n"
        "Bad stage,C-3,,Hibernation\n"
        ",C-4,,\n"
        "Good two,C-5,,run\n",
    )
    assert (result.created, result.error_rows) == (2, 3)
    assert errors_of(result) == [(3, "owner_email"), (5, "stage"), (6, "name")]
    assert "not a member of this workspace" in result.errors[0].message
    assert "trial, onboarding, run, churn" in result.errors[1].message
    assert set(Customer.objects.filter(workspace=workspace).values_list("ref_id", flat=True)) == {
        "C-1",
        "C-5",
    }


def test_every_bad_cell_of_a_row_is_reported(workspace, admin):
    result = run(workspace, admin, "name,owner_email,stage\nAcme,ghost@x.test,nowhere\n")
    assert errors_of(result) == [(2, "owner_email"), (2, "stage")]
    assert result.error_rows == 1
    assert not Customer.objects.filter(workspace=workspace, name="Acme").exists()


def test_a_member_of_another_workspace_cannot_become_owner(workspace, admin, stranger_membership):
    result = run(workspace, admin, f"name,owner_email\nAcme,{stranger_membership.user.email}\n")
    assert errors_of(result) == [(2, "owner_email")]


def test_a_parent_must_exist_and_stay_two_levels_deep(workspace, admin):
    top = CustomerFactory.create(workspace=workspace, name="Top", ref_id="TOP")
    CustomerFactory.create(workspace=workspace, name="Middle", ref_id="MID", parent=top)
    result = run(
        workspace,
        admin,
        "name,customer_id,parent_customer_id\n"
        "Orphan,C-1,NOPE\n"
        "Grandchild,C-2,MID\n"
        "Selfish,C-3,C-3\n"
        "Sub,C-4,TOP\n",
    )
    assert errors_of(result) == [
        (2, "parent_customer_id"),
        (3, "parent_customer_id"),
        (4, "parent_customer_id"),
    ]
    assert "No customer has the Customer ID 'NOPE'" in result.errors[0].message
    assert "two levels" in result.errors[1].message
    assert result.created == 1
    assert Customer.objects.get(ref_id="C-4").parent == top


def test_a_parent_created_by_an_earlier_row_of_the_same_file_is_found(workspace, admin):
    result = run(workspace, admin, "name,customer_id,parent_customer_id\nGroup,G-1,\nBranch,B-1,G-1\n")
    assert (result.created, result.errors) == (2, [])
    assert Customer.objects.get(ref_id="B-1").parent == Customer.objects.get(ref_id="G-1")


def test_a_bad_custom_field_value_is_reported_on_its_column(workspace, admin):
    custom_field_create(workspace=workspace, target="customer", key="seats", label="Seats", type="number")
    result = run(workspace, admin, "name,seats\nAcme,many\nGlobex,12\n")
    assert errors_of(result) == [(2, "seats")]
    assert Customer.objects.get(name="Globex").custom_values == {"seats": "12"}


def test_tags_are_added_and_never_removed(workspace, admin):
    run(workspace, admin, "name,customer_id,tags\nAcme,C-1,vip\n")
    result = run(workspace, admin, "name,customer_id,tags\nAcme,C-1,beta\n")
    assert result.updated == 1
    assert sorted(t.name for t in Customer.objects.get(ref_id="C-1").tags.all()) == ["beta", "vip"]


def test_importing_the_same_customers_file_again_changes_nothing(workspace, admin, csm_membership):
    custom_field_create(workspace=workspace, target="customer", key="tier", label="Tier", type="text")
    text = (
        "name,customer_id,domain,owner_email,stage,tags,health_profile,custom:tier\n"
        "Acme,C-1,acme.com,csm@acme.test,onboarding,vip;beta,SMB,Gold\n"
        "Globex,,globex.com,,run,,,\n"
    )
    assert run(workspace, admin, text).created == 2
    logs = ChangeLog.objects.count()
    again = run(workspace, admin, text)
    assert (again.created, again.updated, again.unchanged, again.errors) == (0, 0, 2, [])
    assert ChangeLog.objects.count() == logs


def test_a_bom_and_semicolons_are_understood(workspace, admin):
    result = run(workspace, admin, 'Name;Customer ID;Tags\r\nAcme;C-1;"vip;beta"\r\n', bom=True)
    assert (result.created, result.errors) == (1, [])
    assert Customer.objects.get(ref_id="C-1").tags.count() == 2


def test_values_longer_than_the_database_allows_are_reported(workspace, admin):
    result = run(workspace, admin, f"name,customer_id,tags\n{'x' * 201},C-1,\nAcme,C-2,{'t' * 61}\n")
    assert errors_of(result) == [(2, "name"), (3, "tags")]
    assert "the limit is 200" in result.errors[0].message


def test_unknown_columns_are_ignored_and_listed(workspace, admin):
    result = run(workspace, admin, "name,favourite_colour\nAcme,blue\n")
    assert result.created == 1
    assert result.ignored_columns == ["favourite_colour"]


def test_a_row_with_more_values_than_columns_is_reported(workspace, admin):
    result = run(workspace, admin, "name,domain\nAcme, Inc,acme.com\nGlobex,globex.com\n")
    assert errors_of(result) == [(2, "")]
    assert "double quotes" in result.errors[0].message
    assert result.created == 1


# ---- the file itself -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"\xef\xbb\xbf\r\n", "empty"),
        (b"name,domain\n", "no data rows"),
        (b"PK\x03\x04rest-of-a-zip", "Excel"),
        ("name\nCaf\xe9\n".encode("latin-1"), "not UTF-8"),
        (b"name\nA\x00B\n", "binary"),
        (b'name,domain\n"Acme,acme.com\n', "not valid CSV"),
        (b"name,Name\nAcme,Acme\n", "more than once"),
        (b'name,domain\n"Acme" Inc,acme.com\n', "Line 2 is not valid CSV"),
    ],
)
def test_a_file_that_is_not_a_usable_csv_is_refused_with_a_reason(data, message):
    with pytest.raises(ImportFileError, match=message):
        read_csv(data)


def test_a_file_over_5_mb_is_refused():
    with pytest.raises(ImportFileError, match="limit is 5 MB"):
        read_csv(b"name\n" + b"x" * MAX_FILE_BYTES)


def test_a_missing_required_column_is_named_with_the_expected_ones(workspace, admin):
    with pytest.raises(ImportFileError, match="Missing column: 'name'.*expected: name, customer_id"):
        run(workspace, admin, "company,domain\nAcme,acme.com\n")
    with pytest.raises(
        ImportFileError, match="Missing columns: 'customer_id' or 'customer_name'; 'amount'\\."
    ):
        run(workspace, admin, "plan_name,start_date,duration\nPro,2025-01-01,1 year\n", "agreements")
    assert not Customer.objects.filter(workspace=workspace).exists()


def test_line_numbers_count_the_lines_of_a_quoted_multiline_value(workspace, admin):
    result = run(workspace, admin, 'name,stage\n"Acme\nCorp",run\nGlobex,nowhere\n')
    assert errors_of(result) == [(4, "stage")]


# ---- agreements ----------------------------------------------------------------------------------

AGREEMENT_HEADER = (
    "customer_id,customer_name,agreement_id,plan_name,amount,amount_period,one_time_fee,start_date,"
    "end_date,duration,notice,notice_date,tacit_renewal,status\n"
)


@pytest.fixture
def acme(workspace):
    return CustomerFactory.create(workspace=workspace, name="Acme", ref_id="C-1")


def test_an_agreement_with_a_duration_and_a_notice_is_created(workspace, admin, acme):
    result = run(
        workspace,
        admin,
        AGREEMENT_HEADER + 'C-1,,A-1,Business,"1 234,50",MRR,500,2025-01-01,,12 months,1 month,,yes,\n',
        "agreements",
    )
    assert (result.created, result.errors) == (1, [])
    agreement = Agreement.objects.get(external_id="A-1")
    assert (agreement.source, agreement.customer) == ("csv", acme)
    assert agreement.amount == Decimal("1234.50")
    assert agreement.one_time_fee == Decimal("500.00")
    assert (agreement.duration_value, agreement.duration_unit) == (12, Interval.MONTH)
    assert agreement.ends_on == dt.date(2026, 1, 1)
    assert agreement.renews_on == dt.date(2025, 12, 1)
    assert agreement.status == AgreementStatus.ACTIVE
    acme.refresh_from_db()
    assert acme.active_mrr == Decimal("1234.50")


def test_an_agreement_found_by_customer_name_with_an_end_date_in_arr(workspace, admin, acme):
    result = run(
        workspace,
        admin,
        "customer_name,amount,amount_period,start_date,end_date,notice_date,tacit_renewal\n"
        'Acme,"1,200.00",ARR,01/01/2025,31/12/2025,30/11/2025,true\n',
        "agreements",
    )
    assert (result.created, result.errors) == (1, [])
    agreement = acme.agreements.get()
    assert (agreement.amount_period, agreement.mrr) == (AmountPeriod.ARR, Decimal("100.00"))
    assert (agreement.ends_on, agreement.renews_on) == (dt.date(2025, 12, 31), dt.date(2025, 11, 30))


def test_missing_amount_start_and_end_are_reported_per_row(workspace, admin, acme):
    result = run(
        workspace,
        admin,
        AGREEMENT_HEADER
        + "C-1,,A-1,Pro,,MRR,,2025-01-01,,1 year,,,,\n"
        + "C-1,,A-2,Pro,100,MRR,,,,1 year,,,,\n"
        + "C-1,,A-3,Pro,100,MRR,,2025-01-01,,,,,,\n"
        + "C-1,,A-4,Pro,100,MRR,,2025-01-01,,1 year,,,,\n",
        "agreements",
    )
    assert errors_of(result) == [(2, "amount"), (3, "start_date"), (4, "end_date / duration")]
    assert result.created == 1


def test_bad_agreement_cells_are_explained(workspace, admin, acme):
    result = run(
        workspace,
        admin,
        AGREEMENT_HEADER
        + "C-404,,,Pro,100,,,2025-01-01,,1 year,,,,\n"
        + "C-1,,,Pro,lots,weekly,,2025-02-30,,,,,,\n"
        + "C-1,,,Pro,100,,,2025-01-01,,12,soon,,maybe,active-ish\n"
        + "C-1,,,Pro,100,,,2025-01-01,2024-01-01,,,,,\n",
        "agreements",
    )
    assert errors_of(result) == [
        (2, "customer_id"),
        (3, "amount"),
        (3, "amount_period"),
        (3, "start_date"),
        (3, "end_date / duration"),
        (4, "duration"),
        (4, "notice"),
        (4, "tacit_renewal"),
        (4, "status"),
        (5, "end_date"),
    ]
    assert "not a real date" in result.errors[3].message
    assert "like 12 months" in result.errors[5].message
    assert "after the start" in result.errors[9].message
    assert not Agreement.objects.exists()


def test_an_agreement_is_updated_by_its_agreement_id_and_blank_cells_keep_values(workspace, admin, acme):
    run(
        workspace,
        admin,
        AGREEMENT_HEADER + "C-1,,A-1,Pro,100,,,2025-01-01,,1 year,,,yes,paused\n",
        "agreements",
    )
    result = run(workspace, admin, AGREEMENT_HEADER + "C-1,,A-1,,150,,,,,,,,,\n", "agreements")
    assert (result.updated, result.errors) == (1, [])
    agreement = Agreement.objects.get(external_id="A-1")
    assert (agreement.plan_name, agreement.amount, agreement.tacit_renewal) == (
        "Pro",
        Decimal("150.00"),
        True,
    )
    assert agreement.status == AgreementStatus.PAUSED


def test_an_end_date_replaces_a_duration_on_update(workspace, admin, acme):
    run(workspace, admin, AGREEMENT_HEADER + "C-1,,A-1,Pro,100,,,2025-01-01,,1 year,,,,\n", "agreements")
    run(workspace, admin, AGREEMENT_HEADER + "C-1,,A-1,,,,,,2025-03-31,,,,,\n", "agreements")
    agreement = Agreement.objects.get(external_id="A-1")
    assert (agreement.end_date, agreement.duration_value, agreement.ends_on) == (
        dt.date(2025, 3, 31),
        None,
        dt.date(2025, 3, 31),
    )


def test_an_agreement_id_of_another_customer_is_refused(workspace, admin, acme):
    CustomerFactory.create(workspace=workspace, name="Globex", ref_id="C-2")
    run(workspace, admin, AGREEMENT_HEADER + "C-1,,A-1,Pro,100,,,2025-01-01,,1 year,,,,\n", "agreements")
    result = run(
        workspace, admin, AGREEMENT_HEADER + "C-2,,A-1,Pro,100,,,2025-01-01,,1 year,,,,\n", "agreements"
    )
    assert errors_of(result) == [(2, "agreement_id")]


def test_importing_the_same_agreements_file_again_changes_nothing(workspace, admin, acme):
    text = (
        AGREEMENT_HEADER
        + 'C-1,,A-1,Pro,"1 234,50",MRR,0,2025-01-01,,12 months,1 month,,yes,\n'
        + ",Acme,,Add-on,50,ARR,,01/03/2025,28/02/2026,,,,no,cancelled\n"
    )
    semicolons = text.replace(",", ";").replace('"1 234;50"', "1 234,50")
    assert run(workspace, admin, semicolons, "agreements", bom=True).created == 2
    again = run(workspace, admin, text, "agreements")
    assert (again.created, again.updated, again.unchanged, again.errors) == (0, 0, 2, [])
    assert acme.agreements.count() == 2


# ---- parsers and samples -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "amount"),
    [
        ("1234.5", "1234.50"),
        ("1 234,50", "1234.50"),
        ("1,234.50", "1234.50"),
        ("1.234,50", "1234.50"),
        ("1,234,567", "1234567.00"),
        ("€ 99", "99.00"),
        ("0,5", "0.50"),
    ],
)
def test_amounts_are_read_in_either_notation(raw, amount):
    assert parse_amount(raw) == Decimal(amount)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("1,234", "ambiguous"),
        ("-5", "negative"),
        ("1.005", "ambiguous"),
        ("1.0055", "two decimals"),
        ("NaN", "not an amount"),
    ],
)
def test_doubtful_amounts_are_refused(raw, message):
    with pytest.raises(ValueError, match=message):
        parse_amount(raw)


def test_dates_and_periods_are_read_in_the_documented_forms():
    assert parse_date("2025-01-31") == parse_date("31/01/2025") == parse_date("2025-01-31T00:00:00")
    assert parse_interval("12 months") == (12, Interval.MONTH)
    assert parse_interval("1 year") == (1, Interval.YEAR)
    assert parse_interval("30days") == (30, Interval.DAY)
    with pytest.raises(ValueError, match="at least 1"):
        parse_interval("0 months")


@pytest.mark.parametrize("kind", ["customers", "agreements"])
def test_a_sample_file_imports_cleanly(workspace, admin, kind):
    custom_field_create(
        workspace=workspace, target=CustomField.Target.CUSTOMER, key="tier", label="Tier", type="text"
    )
    CustomerFactory.create(workspace=workspace, name="Acme Corp", ref_id="C-1001")
    sample = sample_csv(workspace=workspace, kind=kind, owner_email=admin.email)
    assert len(sample.strip().splitlines()) == 2
    result = run(workspace, admin, sample, kind)
    assert result.errors == []
    assert result.created + result.updated == 1
