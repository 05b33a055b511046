"""How a fan-out is cut into chunks (messaging/dispatch.py ``chunks``): enough chunks for the worker
slots to share it, none too big, never mixing worker groups or executions."""
from __future__ import annotations

from engine.dispatch import TaskRunRef
from messaging.chunks import CHUNKS, FIRST_CHUNKS, MAX_CHUNK, chunk_kwargs, chunk_refs, chunks


def refs(n: int, queue: str = "default", execution: str = "e1") -> list[TaskRunRef]:
    return [TaskRunRef(execution, f"{execution}-{queue}-{i}", 1, f"t{i}", "Return", "ns.f", queue) for i in range(n)]


def test_a_small_fan_out_stays_in_single_messages() -> None:
    assert [len(part) for part in chunks(refs(CHUNKS), CHUNKS)] == [1] * CHUNKS


def test_a_fan_out_is_shared_by_at_least_chunks_of_at_most_max_chunk_attempts() -> None:
    for at_least in (FIRST_CHUNKS, CHUNKS):
        for n in (10, 100, 1000, 10_000):
            parts = chunks(refs(n), at_least)
            assert len(parts) >= at_least and max(map(len, parts)) <= MAX_CHUNK
            assert max(map(len, parts)) - min(map(len, parts)) <= 1
            assert [ref for part in parts for ref in part] == refs(n)  # every attempt once, in order


def test_a_fan_out_first_goes_out_in_fewer_chunks_than_what_a_chunk_gives_back() -> None:
    # Few chunks are cheapest while tasks are quick; given back, a slow task's siblings spread.
    assert [len(part) for part in chunks(refs(10), FIRST_CHUNKS)] == [10]
    assert [len(part) for part in chunks(refs(100), FIRST_CHUNKS)] == [25] * 4  # MAX_CHUNK at most
    assert len(chunks(refs(10), CHUNKS)) == CHUNKS


def test_chunks_never_mix_worker_groups_or_executions() -> None:
    mixed = refs(20) + refs(20, queue="gpu") + refs(20, execution="e2")
    for part in chunks(mixed, FIRST_CHUNKS):
        assert len({(ref.execution_id, ref.queue) for ref in part}) == 1


def test_a_chunk_s_arguments_give_back_its_refs() -> None:
    part = refs(5, queue="gpu")
    assert chunk_refs(**chunk_kwargs(part)) == part
