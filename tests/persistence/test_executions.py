"""ExecutionRepository contract: round trip, lock + changed-only writes, queries."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event

from engine.model.execution import Attempt, Execution, StateRecord
from engine.persistence.db import Database
from engine.persistence.executions import ExecutionExists, ExecutionNotFound, ExecutionRepository
from engine.persistence.leases import LeaseRepository, PendingResult
from engine.persistence.task_run_memo import TaskRunMemo
from engine.state import State
from tests.persistence.factories import at, execution, finish, task_run


@pytest.fixture
def repo(db: Database) -> ExecutionRepository:
    return ExecutionRepository(db)


@pytest.fixture
def statements(db: Database) -> Iterator[list[tuple[str, int]]]:
    """Every SQL statement sent, with its number of parameter sets (executemany size)."""
    seen: list[tuple[str, int]] = []

    def record(conn: Any, cursor: Any, sql: str, params: Any, context: Any, many: bool) -> None:
        seen.append((sql.split()[0].upper() + " " + _table(sql), len(params) if many else 1))

    event.listen(db.engine, "before_cursor_execute", record)
    yield seen
    event.remove(db.engine, "before_cursor_execute", record)


def _table(sql: str) -> str:
    """The table a write statement targets (``INSERT INTO t``, ``UPDATE t``, ``DELETE FROM t``)."""
    words = sql.split()
    offsets = {"INSERT": 2, "UPDATE": 1, "DELETE": 2}
    offset = offsets.get(words[0].upper())
    return words[offset].strip('"') if offset and len(words) > offset else ""


def test_create_and_get_round_trip_the_record(repo: ExecutionRepository) -> None:
    created = execution(runs=3, labels={"team": "data"}).with_state(State.RUNNING, at(1))
    repo.create(created)
    assert repo.get(created.id) == created
    assert repo.get("missing") is None


def test_creating_the_same_id_twice_fails(repo: ExecutionRepository) -> None:
    created = execution()
    repo.create(created)
    with pytest.raises(ExecutionExists):
        repo.create(created)


def test_lock_yields_the_execution_with_its_task_runs(repo: ExecutionRepository) -> None:
    created = execution(runs=4)
    repo.create(created)
    with repo.lock(created.id) as locked:
        assert locked.execution == created
        assert [r.value for r in locked.execution.task_run_list] == ["0", "1", "2", "3"]


def test_get_lineage_loads_a_task_run_and_its_ancestors_only(repo: ExecutionRepository) -> None:
    base = execution(runs=5)
    outer = task_run(base, "outer")
    inner = task_run(base, "inner", value="x", parent=outer)
    leaf = task_run(base, "leaf", parent=inner)
    created = base.model_copy(update={"task_run_list": (*base.task_run_list, outer, inner, leaf)})
    repo.create(created)
    lineage = repo.get_lineage(created.id, leaf.id)
    assert lineage is not None
    assert [run.id for run in lineage.task_run_list] == [outer.id, inner.id, leaf.id]  # in position order
    assert lineage.model_copy(update={"task_run_list": ()}) == created.model_copy(update={"task_run_list": ()})
    assert [run.id for run in repo.get_lineage(created.id, outer.id).task_run_list] == [outer.id]
    assert repo.get_lineage(created.id, "missing").task_run_list == ()
    assert repo.get_lineage("missing", leaf.id) is None
    other = execution()
    repo.create(other)
    assert repo.get_lineage(other.id, leaf.id).task_run_list == ()  # a run of another execution


def test_get_lineage_of_several_task_runs_reads_their_shared_ancestors_once(repo: ExecutionRepository) -> None:
    base = execution(runs=3)
    outer = task_run(base, "outer")
    first, second = task_run(base, "a", parent=outer), task_run(base, "b", parent=outer)
    created = base.model_copy(update={"task_run_list": (*base.task_run_list, outer, first, second)})
    repo.create(created)
    lineage = repo.get_lineage(created.id, [second.id, first.id, "missing"])
    assert lineage is not None
    assert [run.id for run in lineage.task_run_list] == [outer.id, first.id, second.id]


def test_claim_many_takes_the_free_current_attempts_and_release_gives_back_its_own(db: Database) -> None:
    repo, leases = ExecutionRepository(db), LeaseRepository(db)
    created = execution(runs=4)
    dispatched = [run.model_copy(update={"attempts": (Attempt(state=StateRecord.start(State.CREATED, at(1))),)})
                  for run in created.task_run_list]
    repo.create(created.model_copy(update={"task_run_list": tuple(dispatched)}))
    first, second, third, fourth = (run.id for run in dispatched)
    assert leases.claim(second, 1, "other", at(30))
    with db.transaction() as tx:
        taken = leases.claim_many([(first, 1), (second, 1), (third, 2), (fourth, 1)], "me", at(30), session=tx)
    assert taken == {first, fourth}  # second: another worker's; third: not its current attempt
    leases.release([(first, 1), (second, 1)], "me", at(60))  # only its own claims are given back
    assert leases.lease(first) == (1, None, at(60))
    assert leases.lease(second) == (1, "other", at(30))
    with db.transaction() as tx:
        assert leases.claim_many([(first, 1)], "again", at(90), session=tx) == {first}


def test_put_results_keeps_several_results_and_counts_them_up_to_a_limit(db: Database) -> None:
    leases = LeaseRepository(db)
    results = [PendingResult("e1", f"r{i}", 1, {"i": i}, at(i), at(60)) for i in range(3)]
    leases.put_results(results)
    leases.put_results(results[:1])  # the same attempt again replaces
    assert leases.pending_results() == 3
    assert leases.waiting_results("e1", 10) == 3 and leases.waiting_results("e1", 2) == 2
    assert leases.waiting_results("e2", 10) == 0
    with db.transaction() as tx:
        taken = leases.take_results("e1", ("r0", 1), limit=10, session=tx)
    assert [result.task_run_id for result in taken] == ["r1", "r2"]  # oldest first, without its own


def test_a_step_reuses_the_execution_this_process_saved_while_its_version_holds(
        db: Database, statements: list[tuple[str, int]]) -> None:
    mine, other = ExecutionRepository(db), ExecutionRepository(db)
    created = execution(runs=50)
    mine.create(created)
    first = created.task_run_list[3]
    with mine.lock(created.id) as locked:
        locked.save(locked.load(leases_of=[]).with_task_run(finish(first, at(5))))
    saved = mine.get(created.id)
    statements.clear()
    with mine.lock(created.id) as locked:
        assert locked.load(leases_of=[]) == saved  # reused: no task run row read
    assert not any("task_runs" in sql for sql, _ in statements)

    # Another process writes: the version moved, the next step reads the rows again.
    second = created.task_run_list[4]
    with other.lock(created.id) as locked:
        locked.save(locked.execution.with_task_run(finish(second, at(6))))
    with mine.lock(created.id) as locked:
        assert locked.load(leases_of=[]).task_run(second.id) == finish(second, at(6))


def test_an_execution_never_saved_since_its_creation_is_read_in_one_query_with_its_leases(
        db: Database, statements: list[tuple[str, int]]) -> None:
    creator, executor = ExecutionRepository(db), ExecutionRepository(db)
    created = execution(runs=3)
    run = created.task_run_list[1]
    dispatched = run.model_copy(update={"attempts": (Attempt(state=StateRecord.start(State.CREATED, at(1))),)})
    creator.create(created.with_task_run(dispatched))
    assert LeaseRepository(db).claim(run.id, 1, "worker-1", at(30))
    statements.clear()
    with executor.lock(created.id) as locked:
        loaded = locked.load(leases_of=[run.id])
    # The row under its lock, then its runs whole: no heads first (SQLite's BEGIN IMMEDIATE aside).
    assert [sql for sql in statements if sql[0] != "BEGIN "] == [("SELECT ", 1)] * 2
    assert loaded == creator.get(created.id)
    assert (loaded.task_run(run.id).attempts[-1].worker_id, loaded.task_run(run.id).attempts[-1].lease_until) == \
        ("worker-1", at(30))
    assert [r.value for r in loaded.task_run_list] == ["0", "1", "2"]


def test_a_reused_execution_carries_the_leases_workers_wrote_since(db: Database) -> None:
    repo = ExecutionRepository(db)
    created = execution(runs=3)
    run = created.task_run_list[1]
    dispatched = run.model_copy(update={"attempts": (Attempt(state=StateRecord.start(State.CREATED, at(1))),)})
    repo.create(created.with_task_run(dispatched))
    with repo.lock(created.id) as locked:
        locked.load(leases_of=[])
    assert LeaseRepository(db).claim(run.id, 1, "worker-1", at(30))  # a direct write: no version raised
    with repo.lock(created.id) as locked:
        stale = locked.load(leases_of=[]).task_run(run.id).attempts[-1]
    assert stale.worker_id is None  # not asked for: the saved copy as it was
    with repo.lock(created.id) as locked:
        fresh = locked.load(leases_of=[run.id]).task_run(run.id).attempts[-1]
    assert (fresh.worker_id, fresh.lease_until) == ("worker-1", at(30))


def test_a_soft_delete_invalidates_a_reused_execution(db: Database) -> None:
    repo = ExecutionRepository(db)
    created = execution(runs=2)
    repo.create(created)
    with repo.lock(created.id) as locked:
        locked.load(leases_of=[])
    version = locked.version
    assert ExecutionRepository(db).delete(created.id)
    with repo.lock(created.id) as locked:
        assert locked.version == version + 1


def test_lock_of_a_missing_execution_raises(repo: ExecutionRepository) -> None:
    with pytest.raises(ExecutionNotFound), repo.lock("nope"):
        pass


def test_save_writes_only_the_changed_task_run(repo: ExecutionRepository,
                                               statements: list[tuple[str, int]]) -> None:
    created = execution(runs=50)
    repo.create(created)
    changed_run = finish(created.task_run_list[17], at(5))
    statements.clear()
    with repo.lock(created.id) as locked:
        stats = locked.save(locked.execution.with_task_run(changed_run))
    assert (stats.task_runs_updated, stats.task_runs_inserted, stats.task_runs_deleted) == (1, 0, 0)
    assert not stats.execution_written
    writes = [s for s in statements if s[0].split()[0] in ("INSERT", "UPDATE", "DELETE")]
    assert writes == [("UPDATE task_runs", 1), ("UPDATE executions", 1)]  # the second: its version only
    stored = repo.get(created.id)
    assert stored is not None and stored.task_run(changed_run.id) == changed_run
    assert stored.task_run_list[17] == changed_run


def test_a_load_parses_only_the_task_runs_written_since_the_last(repo: ExecutionRepository,
                                                                  statements: list[tuple[str, int]]) -> None:
    created = execution(runs=20)
    repo.create(created)
    first = repo.get(created.id)
    assert first is not None
    with repo.lock(created.id) as locked:
        locked.save(locked.execution.with_task_run(finish(created.task_run_list[3], at(5))))
    statements.clear()
    second = repo.get(created.id)
    assert second is not None and second.task_run_list[3].state.current == State.SUCCESS
    # Unchanged rows come from the memo (the very objects), the changed one is read again.
    assert all(a is b for i, (a, b) in enumerate(zip(first.task_run_list, second.task_run_list, strict=True)) if i != 3)
    assert second.task_run_list[3] is not first.task_run_list[3]
    assert [s for s in statements if s[0].startswith("SELECT")] == [("SELECT ", 1)] * 3


def test_a_save_drops_the_memo_s_copies_of_the_runs_it_rewrote(repo: ExecutionRepository) -> None:
    # The step cache holds the new ones: a wide execution must not be held twice in memory.
    created = execution(runs=5)
    repo.create(created)
    assert repo.get(created.id) is not None and len(repo.memo) == 5
    with repo.lock(created.id) as locked:
        locked.save(locked.execution.with_task_run(finish(created.task_run_list[2], at(5))))
    assert len(repo.memo) == 4
    stored = repo.get(created.id)
    assert stored is not None and stored.task_run_list[2].state.current == State.SUCCESS


def test_another_process_s_write_is_seen_through_the_memo(db: Database) -> None:
    mine, theirs = ExecutionRepository(db), ExecutionRepository(db)  # two processes' memos
    created = execution(runs=3)
    mine.create(created)
    assert mine.get(created.id) == created  # memoised here
    with theirs.lock(created.id) as locked:
        done = locked.execution.with_task_run(finish(created.task_run_list[1], at(7)))
        locked.save(done)
    with theirs.lock(created.id) as locked:  # a second write: revision 2, not 1 again
        done = locked.execution.with_task_run(finish(done.task_run_list[2], at(8)))
        locked.save(done)
    assert mine.get(created.id) == done
    with mine.lock(created.id) as locked:
        assert locked.execution == done


def test_the_memo_forgets_its_oldest_runs_beyond_its_capacity(db: Database) -> None:
    repo = ExecutionRepository(db, TaskRunMemo(capacity=8))
    created = execution(runs=20)
    repo.create(created)
    assert repo.get(created.id) == created and len(repo.memo) <= 8
    assert repo.get(created.id) == created


def test_save_appends_new_runs_and_updates_the_execution(repo: ExecutionRepository) -> None:
    created = execution(runs=2)
    repo.create(created)
    with repo.lock(created.id) as locked:
        running = locked.execution.with_state(State.RUNNING, at(1))
        new_run = task_run(running, "next", now=at(1))
        stats = locked.save(running.with_task_run(new_run))
    assert stats.execution_written and stats.task_runs_inserted == 1
    assert stats.task_runs_updated == 0
    stored = repo.get(created.id)
    assert stored is not None and stored.state.current == State.RUNNING
    assert stored.task_run_list[-1] == new_run


def test_save_twice_under_one_lock_diffs_against_the_last_save(repo: ExecutionRepository) -> None:
    created = execution(runs=3)
    repo.create(created)
    with repo.lock(created.id) as locked:
        first = locked.execution.with_task_run(finish(created.task_run_list[0], at(1)))
        locked.save(first)
        second = first.with_task_run(finish(created.task_run_list[1], at(2)))
        stats = locked.save(second)
    assert stats.task_runs_updated == 1
    assert repo.get(created.id) == second


def test_removed_task_runs_are_deleted_and_order_kept(repo: ExecutionRepository) -> None:
    created = execution(runs=5)
    repo.create(created)
    kept = tuple(r for r in created.task_run_list if r.value not in ("1", "3"))
    with repo.lock(created.id) as locked:
        stats = locked.save(created.model_copy(update={"task_run_list": kept}))
        assert stats.task_runs_deleted == 2
    with repo.lock(created.id) as locked:
        locked.save(locked.execution.with_task_run(task_run(created, "late", value="9")))
    stored = repo.get(created.id)
    assert stored is not None
    assert [r.value for r in stored.task_run_list] == ["0", "2", "4", "9"]


def test_an_exception_in_the_lock_rolls_back(repo: ExecutionRepository) -> None:
    created = execution(runs=1)
    repo.create(created)
    with pytest.raises(RuntimeError), repo.lock(created.id) as locked:
        locked.save(locked.execution.with_state(State.RUNNING, at(1)))
        raise RuntimeError("boom")
    stored = repo.get(created.id)
    assert stored is not None and stored.state.current == State.CREATED


def test_ten_thousand_task_runs_are_saved_and_loaded(repo: ExecutionRepository) -> None:
    created = execution(runs=10_000)
    repo.create(created)
    with repo.lock(created.id) as locked:
        assert len(locked.execution.task_run_list) == 10_000
        last = locked.execution.task_run_list[-1]
        stats = locked.save(locked.execution.with_task_run(finish(last, at(3))))
    assert (stats.task_runs_updated, stats.task_runs_inserted) == (1, 0)
    stored = repo.get(created.id)
    assert stored is not None
    assert [r.value for r in stored.task_run_list] == [str(i) for i in range(10_000)]
    assert stored.task_run_list[-1].state.current == State.SUCCESS


def _increment(repo: ExecutionRepository, execution_id: str, times: int) -> None:
    for _ in range(times):
        with repo.lock(execution_id) as locked:
            current = locked.execution
            count = int(current.variables.get("count", 0))
            locked.save(current.model_copy(update={"variables": {"count": count + 1}}))


def test_concurrent_locks_serialize_read_modify_write(db: Database) -> None:
    """Two threads each add 25 under the lock; a lost update would leave less than 50."""
    repo = ExecutionRepository(db)
    created = execution()
    repo.create(created)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            _increment(ExecutionRepository(db), created.id, 25)
        except BaseException as error:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    stored = repo.get(created.id)
    assert stored is not None and stored.variables["count"] == 50


def test_second_locker_waits_for_the_first_to_commit(db: Database) -> None:
    """The second lock sees the first one's committed write, never the old row."""
    repo = ExecutionRepository(db)
    created = execution()
    repo.create(created)
    first_has_lock, seen = threading.Event(), []

    def second() -> None:
        first_has_lock.wait()
        with ExecutionRepository(db).lock(created.id) as locked:
            seen.append(locked.execution.state.current)

    thread = threading.Thread(target=second)
    thread.start()
    with repo.lock(created.id) as locked:
        first_has_lock.set()
        locked.save(locked.execution.with_state(State.RUNNING, at(1)))
    thread.join()
    assert seen == [State.RUNNING]


def test_list_filters_and_pages(repo: ExecutionRepository) -> None:
    a = execution("company.team", "a", state=State.RUNNING, now=at(1), labels={"env": "prod"})
    b = execution("company.team.sub", "b", state=State.RUNNING, now=at(2), labels={"env": "dev"})
    c = execution("company.teamx", "a", now=at(3), labels={"env": "prod", "x": "1"})
    for record in (a, b, c):
        repo.create(record)
    assert _ids(repo.list(namespace="company.team").items) == [b.id, a.id]
    assert _ids(repo.list(flow_id="a").items) == [c.id, a.id]
    assert _ids(repo.list(state=State.CREATED).items) == [c.id]
    assert _ids(repo.list(state=[State.CREATED, State.RUNNING]).items) == [c.id, b.id, a.id]
    assert _ids(repo.list(labels={"env": "prod"}).items) == [c.id, a.id]
    assert _ids(repo.list(labels={"env": "prod", "x": "1"}).items) == [c.id]
    assert _ids(repo.list(started_after=at(2), started_before=at(3)).items) == [b.id]
    page = repo.list(page=2, size=2)
    assert (page.total, _ids(page.items)) == (3, [a.id])


def test_list_leaves_task_runs_out_unless_asked(repo: ExecutionRepository) -> None:
    created = execution(runs=3)
    repo.create(created)
    assert repo.list().items[0].task_run_list == ()
    assert repo.list(with_task_runs=True).items[0] == created


def test_label_changes_are_searchable(repo: ExecutionRepository) -> None:
    created = execution(labels={"env": "dev"})
    repo.create(created)
    with repo.lock(created.id) as locked:
        relabelled = locked.execution.model_copy(
            update={"labels": created.labels[:0] + (created.labels[0].model_copy(
                update={"value": "prod"}),)})
        locked.save(relabelled)
    assert _ids(repo.list(labels={"env": "prod"}).items) == [created.id]
    assert repo.list(labels={"env": "dev"}).items == []


def test_running_count_counts_slot_holders_of_one_flow(repo: ExecutionRepository) -> None:
    repo.create(execution(flow_id="f", state=State.RUNNING))
    repo.create(execution(flow_id="f", state=State.PAUSED))
    repo.create(execution(flow_id="f", state=State.QUEUED))
    repo.create(execution(flow_id="f", state=State.SUCCESS))
    repo.create(execution(flow_id="other", state=State.RUNNING))
    assert repo.running_count("company.team", "f") == 2


def test_children_by_parent_id(repo: ExecutionRepository) -> None:
    parent = execution()
    kids = [execution(flow_id="sub", parent_id=parent.id, now=at(i)) for i in range(2)]
    for record in (parent, *kids):
        repo.create(record)
    assert _ids(repo.children(parent.id)) == [k.id for k in kids]
    assert repo.children(kids[0].id) == []


def test_soft_delete_hides_and_hard_delete_removes(repo: ExecutionRepository) -> None:
    soft, hard = execution(runs=2), execution(runs=2)
    repo.create(soft)
    repo.create(hard)
    assert repo.delete(soft.id)
    assert repo.get(soft.id) is None
    kept = repo.get(soft.id, allow_deleted=True)
    assert kept is not None and kept.deleted and len(kept.task_run_list) == 2
    assert repo.list().total == 1
    assert repo.delete(hard.id, hard=True)
    assert repo.get(hard.id, allow_deleted=True) is None
    assert not repo.delete("missing")


def _ids(items: list[Execution]) -> list[str]:
    return [item.id for item in items]
