from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from search.models import Kind, ReindexRequest, SearchEntry, SearchIndexState, SearchWord
from search.selectors import search
from search.services import STATE_PK, search_index_pass
from search.text import normalise, query_tokens, words_of
from tests.factories import AgreementFactory, ContactFactory, CustomerFactory

postgres_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="typo matching needs pg_trgm")


def titles(results, kind):
    return [entry.title for group in results.groups if group.kind == kind for entry in group.entries]


@pytest.fixture
def indexed(workspace, csm_membership, other_workspace):
    globex = CustomerFactory(
        workspace=workspace, name="Globex Corporation", domain="globex.com", ref_id="CUST-0042"
    )
    societe = CustomerFactory(workspace=workspace, name="Société Générale d'Études", domain="sge.fr")
    tokyo = CustomerFactory(workspace=workspace, name="東京商事株式会社", domain="tokyo-shoji.jp")
    ContactFactory(
        customer=globex,
        first_name="Jane",
        last_name="Doe",
        email="jane.doe@globex.com",
        secondary_emails=["jd@personal.example"],
        phone="+33 1 23 45 67 89",
    )
    ContactFactory(customer=societe, first_name="Éloïse", last_name="Müller", email="eloise@sge.fr")
    AgreementFactory(customer=globex, plan_name="Enterprise Plus")
    rival = CustomerFactory(workspace=other_workspace, name="Globex Rival", domain="rival.test")
    ContactFactory(customer=rival, first_name="Jane", last_name="Rival", email="jane@rival.test")
    search_index_pass()
    return {"globex": globex, "societe": societe, "tokyo": tokyo, "rival": rival}


def test_normalise_drops_accents_and_case():
    assert normalise("  Société   GÉNÉRALE ") == "societe generale"
    assert normalise("Øresund Straße") == "oresund strasse"
    assert query_tokens("+33 (1) 23-45") == ["3312345"]
    assert query_tokens("01 23 45") == ["12345"]
    assert query_tokens("'; drop table --") == ["drop", "table"]
    assert "acme" in words_of(["jane@acme.com"]).split()


def test_customers_are_found_by_name_domain_and_customer_id(indexed, csm_membership):
    for query in ("globex", "GLOB", "globex.com", "cust-0042", "corporation glob"):
        assert titles(search(membership=csm_membership, query=query), Kind.CUSTOMER) == [
            "Globex Corporation"
        ], query


def test_contacts_are_found_by_name_emails_and_phone(indexed, csm_membership):
    for query in (
        "jane",
        "doe jane",
        "jane.doe@globex.com",
        "jd@personal",
        "personal.example",
        "01 23 45",
        "33123",
    ):
        assert titles(search(membership=csm_membership, query=query), Kind.CONTACT) == ["Jane Doe"], query


def test_agreements_are_found_by_plan_and_customer(indexed, csm_membership):
    assert titles(search(membership=csm_membership, query="enterprise pl"), Kind.AGREEMENT) == [
        "Enterprise Plus"
    ]
    assert titles(search(membership=csm_membership, query="globex"), Kind.AGREEMENT) == ["Enterprise Plus"]


def test_accents_do_not_matter_either_way(indexed, csm_membership):
    for query in ("societe generale", "Société", "ETUDES", "eloise muller", "Éloïse"):
        results = search(membership=csm_membership, query=query)
        assert results.total >= 1, query
    assert titles(search(membership=csm_membership, query="muller"), Kind.CONTACT) == ["Éloïse Müller"]


def test_cjk_names_match_anywhere(indexed, csm_membership):
    for query in ("東京", "商事", "株式会社"):
        assert titles(search(membership=csm_membership, query=query), Kind.CUSTOMER) == [
            "東京商事株式会社"
        ], query


def test_a_word_matches_only_as_a_prefix(indexed, csm_membership):
    assert search(membership=csm_membership, query="lobex").total == 0 or connection.vendor == "postgresql"
    assert titles(search(membership=csm_membership, query="corp"), Kind.CUSTOMER) == ["Globex Corporation"]


def test_a_csm_never_finds_another_workspaces_rows(indexed, csm_membership, stranger_membership):
    results = search(membership=csm_membership, query="globex")
    assert "Globex Rival" not in titles(results, Kind.CUSTOMER)
    assert titles(search(membership=csm_membership, query="rival"), Kind.CONTACT) == []
    assert titles(search(membership=stranger_membership, query="jane"), Kind.CONTACT) == ["Jane Rival"]
    assert search(membership=None, query="globex").total == 0


@postgres_only
def test_a_typo_still_finds_the_customer(indexed, csm_membership):
    results = search(membership=csm_membership, query="globx")
    assert results.typo_matches
    assert "Globex Corporation" in titles(results, Kind.CUSTOMER)
    assert "Globex Rival" not in titles(results, Kind.CUSTOMER)


def test_the_index_catches_up_with_changes_and_deletions(indexed, csm_membership, workspace):
    globex = indexed["globex"]
    globex.name = "Initech"
    globex.save()
    new = CustomerFactory(workspace=workspace, name="Umbrella")
    indexed["societe"].delete()
    # Until the next pass, the index still answers as before.
    assert titles(search(membership=csm_membership, query="initech"), Kind.CUSTOMER) == []

    result = search_index_pass()

    assert result is not None and not result.full
    assert titles(search(membership=csm_membership, query="initech"), Kind.CUSTOMER) == ["Initech"]
    assert titles(search(membership=csm_membership, query="corporation"), Kind.CUSTOMER) == []
    assert titles(search(membership=csm_membership, query="umbrella"), Kind.CUSTOMER) == ["Umbrella"]
    assert search(membership=csm_membership, query="societe").total == 0
    assert search(membership=csm_membership, query="eloise").total == 0  # its contact went with it
    # The agreement's entry shows the new customer name.
    entry = SearchEntry.objects.get(kind=Kind.AGREEMENT)
    assert entry.subtitle.startswith("Initech")
    assert SearchEntry.objects.filter(kind=Kind.CUSTOMER, object_id=new.pk).exists()


def test_an_incremental_pass_reads_only_rows_changed_since_the_last(indexed):
    from agreements.models import Agreement
    from customers.models import Contact, Customer

    an_hour_ago = timezone.now() - dt.timedelta(hours=1)
    for model in (Customer, Contact, Agreement):
        model.objects.update(updated_at=an_hour_ago)
    result = search_index_pass()
    assert result is not None and not result.full
    assert result.indexed == {"customer": 0, "contact": 0, "agreement": 0}


def test_entries_that_did_not_change_are_not_written_again(indexed):
    before = dict(SearchEntry.objects.values_list("pk", "indexed_at"))
    result = search_index_pass(full=True)
    assert result is not None and result.indexed["customer"] == 4 and result.written == 0
    assert dict(SearchEntry.objects.values_list("pk", "indexed_at")) == before
    globex = indexed["globex"]
    globex.ref_id = "CUST-0043"
    globex.save()
    result = search_index_pass(full=True)
    assert result is not None and result.written == 1  # its contacts and agreement show only its name
    assert "cust-0043" in SearchEntry.objects.get(kind=Kind.CUSTOMER, object_id=globex.pk).search_text


def test_rows_changed_long_ago_are_skipped_by_an_incremental_pass(indexed, workspace):
    old = CustomerFactory(workspace=workspace, name="Hooli")
    type(old).objects.filter(pk=old.pk).update(updated_at=timezone.now() - dt.timedelta(days=2))
    search_index_pass()
    assert not SearchEntry.objects.filter(object_id=old.pk, kind=Kind.CUSTOMER).exists()
    search_index_pass(full=True)
    assert SearchEntry.objects.filter(object_id=old.pk, kind=Kind.CUSTOMER).exists()


def test_a_pass_never_overlaps_another(indexed):
    SearchIndexState.objects.filter(pk=STATE_PK).update(running_since=timezone.now())
    assert search_index_pass() is None
    # A claim left by a killed worker is taken over after a while.
    SearchIndexState.objects.filter(pk=STATE_PK).update(running_since=timezone.now() - dt.timedelta(hours=1))
    assert search_index_pass() is not None
    assert SearchIndexState.objects.get(pk=STATE_PK).running_since is None


def test_a_failed_pass_releases_its_claim(indexed, monkeypatch):
    import search.services as services

    def boom(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(services, "_remove_deleted", boom)
    with pytest.raises(RuntimeError):
        search_index_pass()
    state = SearchIndexState.objects.get(pk=STATE_PK)
    assert state.running_since is None
    assert "database went away" in state.last_error


# ---- views ---------------------------------------------------------------------------------------------


def test_the_results_page_groups_by_kind_and_says_when_the_index_was_refreshed(
    indexed, client_for, csm_membership
):
    response = client_for(csm_membership).get(reverse("search:page"), {"q": "globex"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Globex Corporation" in html and "Enterprise Plus" in html
    assert "Globex Rival" not in html
    assert "Index last refreshed" in html
    assert html.index("Customers") < html.index("Agreements")
    assert "Reindex now" not in html  # CSMs cannot ask for one


def test_the_header_panel_is_a_fragment(indexed, client_for, csm_membership):
    response = client_for(csm_membership).get(
        reverse("search:page"), {"q": "jane", "panel": "1"}, headers={"HX-Request": "true"}
    )
    html = response.content.decode()
    assert "<html" not in html
    assert "Jane Doe" in html and "Jane Rival" not in html
    assert "All results for" in html


def test_a_bad_query_gets_a_clear_answer(indexed, client_for, csm_membership):
    client = client_for(csm_membership)
    assert "at least 2 characters" in client.get(reverse("search:page"), {"q": "%"}).content.decode()
    html = client.get(reverse("search:page"), {"q": "zzzz nothing"}).content.decode()
    assert "No customer, contact or agreement matches" in html
    assert client.get(reverse("search:page"), {"q": "x" * 5000}).status_code == 200


def test_an_admin_queues_a_full_reindex_of_their_workspace(indexed, client_for, admin_membership, workspace):
    hidden = CustomerFactory(workspace=workspace, name="Stark Industries")
    type(hidden).objects.filter(pk=hidden.pk).update(updated_at=timezone.now() - dt.timedelta(days=3))
    client = client_for(admin_membership)
    assert "Reindex now" in client.get(reverse("search:page")).content.decode()
    response = client.post(reverse("search:reindex"), {"q": "stark"})
    assert response.status_code == 302
    request = ReindexRequest.objects.get(workspace=workspace)
    search_index_pass()  # what the queued task runs
    request.refresh_from_db()
    assert request.done_at is not None
    assert SearchEntry.objects.filter(kind=Kind.CUSTOMER, object_id=hidden.pk).exists()


def test_csms_and_managers_cannot_ask_for_a_reindex(client_for, csm_membership, manager_membership):
    for membership in (csm_membership, manager_membership):
        assert client_for(membership).post(reverse("search:reindex")).status_code == 403
    assert not ReindexRequest.objects.exists()


def test_search_needs_a_login(client, db):
    assert client.get(reverse("search:page"), {"q": "x"}).status_code == 302


# ---- typo corrections and the plan by number of matches (PostgreSQL) ------------------------------------


def test_the_dictionary_holds_the_words_of_the_index_letters_only(indexed, workspace, other_workspace):
    words = set(SearchWord.objects.filter(workspace=workspace).values_list("word", flat=True))
    assert {"globex", "corporation", "jane", "doe", "societe", "generale", "eloise", "muller"} <= words
    assert not {word for word in words if not word.isalpha() or len(word) < 3}  # no emails, ids, "jd"
    assert "rival" not in words  # another workspace's
    assert "rival" in set(SearchWord.objects.filter(workspace=other_workspace).values_list("word", flat=True))


def test_an_incremental_pass_adds_words_and_the_full_pass_drops_the_gone_ones(indexed, workspace):
    globex = indexed["globex"]
    globex.name = "Initech"
    globex.save()
    search_index_pass()
    words = set(SearchWord.objects.filter(workspace=workspace).values_list("word", flat=True))
    assert "initech" in words and "corporation" in words  # kept until the daily full pass
    search_index_pass(full=True)
    words = set(SearchWord.objects.filter(workspace=workspace).values_list("word", flat=True))
    assert "initech" in words and "corporation" not in words
    assert "globex" in words  # still the domain's and the contact's email's


@postgres_only
def test_one_misspelt_word_among_others_is_corrected(indexed, csm_membership):
    results = search(membership=csm_membership, query="jane doee")
    assert results.typo_matches and results.corrections == {"doee": ["doe"]}
    assert titles(results, Kind.CONTACT) == ["Jane Doe"]


@postgres_only
def test_a_typo_is_read_as_the_closest_word_only(workspace, csm_membership):
    CustomerFactory(workspace=workspace, name="Willow Partners")
    CustomerFactory(workspace=workspace, name="Wilson Logistics")
    search_index_pass()
    results = search(membership=csm_membership, query="wilow")
    assert results.corrections == {"wilow": ["willow"]}
    assert titles(results, Kind.CUSTOMER) == ["Willow Partners"]


@postgres_only
def test_search_gives_back_the_planner_settings_it_changed(indexed, csm_membership):
    from django.db import transaction

    with transaction.atomic():
        search(membership=csm_membership, query="globx")  # the capped query and the corrections ran
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('enable_seqscan'), current_setting('enable_indexscan')")
            assert cursor.fetchone() == ("on", "on")


@pytest.fixture
def many_names(workspace):
    """12 customers named "Nova <letter>" (A to L) and 12 named "<letter> Zeta" (A to L), among 10 others."""
    for letter in "ABCDEFGHIJKL":
        CustomerFactory(workspace=workspace, name=f"Nova {letter}")
        CustomerFactory(workspace=workspace, name=f"{letter} Zeta")
    for n in range(10):
        CustomerFactory(workspace=workspace, name=f"Other {n}")
    search_index_pass()


@pytest.mark.parametrize("cap, walk", [(100, 100), (100, 3), (3, 100), (3, 3)])
def test_the_first_matches_by_title_whatever_the_plan(many_names, csm_membership, monkeypatch, cap, walk):
    """Both plans (the title walk, the capped set from the GIN index) give the exact first titles when
    they can; on SQLite the query orders them itself."""
    import search.selectors as selectors

    monkeypatch.setattr(selectors, "MATCH_CAP", cap)
    monkeypatch.setattr(selectors, "WALK", walk)
    novas, zetas = ["Nova A", "Nova B", "Nova C", "Nova D"], ["A Zeta", "B Zeta"]
    # A two-letter prefix is the other plan's case: the walk first, then the capped set.
    for query, first in (("nova", novas), ("no", novas), ("zeta", zetas), ("ze", zetas)):
        per_kind = len(first)
        group = next(g for g in search(membership=csm_membership, query=query, per_kind=per_kind).groups)
        if cap == 3 and walk == 3 and connection.vendor == "postgresql" and query in ("nova", "no"):
            # More than MATCH_CAP matches and none in the first WALK titles (A, B and C Zeta): the best
            # titles of an arbitrary capped set, a full page of matches.
            assert len(group.entries) == per_kind
            assert all(entry.title.startswith("Nova") for entry in group.entries)
        else:
            assert [entry.title for entry in group.entries] == first, (query, cap, walk)
        assert group.more


@postgres_only
def test_the_page_says_how_a_misspelt_word_was_read(indexed, client_for, csm_membership):
    html = client_for(csm_membership).get(reverse("search:page"), {"q": "globx"}).content.decode()
    assert "Nothing matches “globx” as typed; close spellings (globx → globex):" in html
    assert "Globex Corporation" in html
