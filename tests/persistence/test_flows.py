"""FlowRepository contract: every revision kept, unchanged sources ignored, soft delete."""
from __future__ import annotations

import pytest

from engine.persistence.db import Database
from engine.persistence.flows import FlowNotFound, FlowRepository
from tests.persistence.factories import at

SOURCE = "id: hello\nnamespace: company.team\ntasks: []\n"
CHANGED = SOURCE + "# a comment is a change: the source is kept verbatim\n"


@pytest.fixture
def flows(db: Database) -> FlowRepository:
    return FlowRepository(db)


def test_first_save_is_revision_one(flows: FlowRepository) -> None:
    assert flows.save("company.team", "hello", SOURCE, at(0)) == (1, True)
    stored = flows.get("company.team", "hello")
    assert stored is not None
    assert (stored.revision, stored.source, stored.deleted, stored.created) == (1, SOURCE, False, at(0))


def test_unchanged_source_creates_no_revision(flows: FlowRepository) -> None:
    flows.save("company.team", "hello", SOURCE, at(0))
    assert flows.save("company.team", "hello", SOURCE, at(1)) == (1, False)
    assert flows.save("company.team", "hello", CHANGED, at(2)) == (2, True)
    assert flows.save("company.team", "hello", CHANGED, at(3)) == (2, False)
    # Going back to an older text is a change too.
    assert flows.save("company.team", "hello", SOURCE, at(4)) == (3, True)
    assert [r.revision for r in flows.revisions("company.team", "hello")] == [1, 2, 3]


def test_get_a_given_revision(flows: FlowRepository) -> None:
    flows.save("company.team", "hello", SOURCE, at(0))
    flows.save("company.team", "hello", CHANGED, at(1))
    first = flows.get("company.team", "hello", revision=1)
    assert first is not None and first.source == SOURCE
    assert flows.get("company.team", "hello", revision=9) is None
    assert flows.get("company.team", "nope") is None


def test_delete_writes_a_deleted_revision_and_keeps_history(flows: FlowRepository) -> None:
    flows.save("company.team", "hello", SOURCE, at(0))
    assert flows.delete("company.team", "hello", at(1)) == 2
    assert flows.get("company.team", "hello") is None
    deleted = flows.get("company.team", "hello", allow_deleted=True)
    assert deleted is not None and deleted.deleted and deleted.source == SOURCE
    assert [(r.revision, r.deleted) for r in flows.revisions("company.team", "hello")] == [
        (1, False), (2, True)]
    with pytest.raises(FlowNotFound):
        flows.delete("company.team", "hello", at(2))
    # Saving the same source again after a delete restores the flow as a new revision.
    assert flows.save("company.team", "hello", SOURCE, at(3)) == (3, True)


def test_latest_revision_number_without_the_source(flows: FlowRepository) -> None:
    assert flows.latest_revision("company.team", "hello") is None
    flows.save("company.team", "hello", SOURCE, at(0))
    flows.save("company.team", "hello", SOURCE + "\ndescription: two\n", at(1))
    assert flows.latest_revision("company.team", "hello") == (2, False)
    flows.delete("company.team", "hello", at(2))
    assert flows.latest_revision("company.team", "hello") == (3, True)


def test_delete_of_a_missing_flow_fails(flows: FlowRepository) -> None:
    with pytest.raises(FlowNotFound):
        flows.delete("company.team", "ghost", at(0))


def test_list_latest_revisions_by_namespace(flows: FlowRepository) -> None:
    flows.save("company.team", "b", SOURCE, at(0))
    flows.save("company.team", "b", CHANGED, at(1))
    flows.save("company.team", "a", SOURCE, at(0))
    flows.save("company.team.sub", "c", SOURCE, at(0))
    flows.save("company.teamx", "d", SOURCE, at(0))
    flows.save("other", "e", SOURCE, at(0))
    flows.delete("other", "e", at(1))
    listed = [(f.namespace, f.flow_id, f.revision) for f in flows.list("company.team")]
    assert listed == [("company.team", "a", 1), ("company.team", "b", 2),
                      ("company.team.sub", "c", 1)]
    assert [f.flow_id for f in flows.list()] == ["a", "b", "c", "d"]
    assert [f.flow_id for f in flows.list(include_deleted=True)][-1] == "e"


def test_same_flow_id_in_two_namespaces_is_two_flows(flows: FlowRepository) -> None:
    assert flows.save("ns.one", "hello", SOURCE, at(0)) == (1, True)
    assert flows.save("ns.two", "hello", CHANGED, at(0)) == (1, True)
