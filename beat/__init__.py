"""The beat process: Podium's own scheduler for Schedule triggers, backfills, timers (retry delays,
Pause timeouts, WaitFor checks) and the reaper of lost work. Its loop is ``tick(now) -> seconds``
around the pure schedule maths of ``engine``.

- ``command.py``: ``podium beat`` (``python -m beat`` runs the same command);
- ``process.py``: the process: services, leader election, signals;
- ``loop.py``: ``Beat``, the tick; ``leader.py``: one leading beat among several; ``clock.py``:
  the clock (a fake one for tests).
"""
