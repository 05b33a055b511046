"""The log lines of one attempt, written with its result when the attempt is quick.

Most attempts end within a fraction of a second: their lines are held in memory and written in the
transaction that puts the attempt's result in the outbox (``LeaseKeeper.report``), one commit for
both rather than an INSERT and a commit per line. An attempt that is still running when it is
reported RUNNING (``worker.running_report_after``), or that holds ``MAX_HELD`` lines, goes *live*:
what it held is written then, and each later line as it comes, so a long task's logs are followed
as they are written. A WorkingDirectory is live from the start: its later tasks may read its
earlier ones' logs (``log.Fetch``). A worker that dies loses at most the lines of its last
``running_report_after`` seconds; the attempt is retried and logs again.
"""
from __future__ import annotations

import threading

from engine.persistence.attempt_records import AttemptRecord, append_records
from engine.persistence.logs import LogRepository

MAX_HELD = 200


class AttemptLogs:
    """The lines (and metrics) of one attempt: held, then written with its result or as they come (live)."""

    def __init__(self, repository: LogRepository, *, live: bool = False) -> None:
        self._repository = repository
        self._held: list[AttemptRecord] = []
        self._live = live
        # Held while writing too: lines of one attempt logged from several threads keep their order.
        self._lock = threading.Lock()

    def append(self, entry: AttemptRecord) -> None:
        with self._lock:
            self._held.append(entry)
            if self._live or len(self._held) >= MAX_HELD:
                self._write_held()

    def go_live(self) -> None:
        """Writes what is held; every later line is written at once."""
        with self._lock:
            self._write_held()

    def take(self) -> list[AttemptRecord]:
        """The lines held so far, for the caller to write (with the result); later lines are
        written at once (a task thread that outlived its attempt may still log)."""
        with self._lock:
            self._live = True
            held, self._held = self._held, []
            return held

    def _write_held(self) -> None:
        self._live = True
        held, self._held = self._held, []
        if held:
            append_records(self._repository.db, held)
