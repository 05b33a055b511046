"""The beat process: Podium's own scheduler for Schedule triggers, backfills, timers (retry delays,
Pause timeouts, WaitFor checks) and the reaper of lost work. Its loop is ``tick(now) -> seconds``
around the pure schedule maths of ``engine``.

- ``command.py``: ``podium beat`` (``python -m beat`` runs the same command);
- ``process.py``: the process: services, leader election, signals;
- ``loop.py``: ``Beat``, the tick; ``leader.py``: one leading beat among several; ``clock.py``:
  the clock (a fake one for tests).

The work a tick does stays in ``engine/services``, because other processes use it too:

- ``schedules.py`` (``ScheduleService``): every deploy plans the flow's schedule triggers
  (``sync_flow``, a deploy hook, whichever process deploys: ``podium flow deploy``, ``podium run``,
  the flows folder watched by ``podium server local``), and ``podium triggers list`` shows them;
- ``backfill_runs.py`` (``BackfillService``): ``podium backfill`` creates, pauses, resumes, cancels
  and follows backfills, and on an embedded broker advances one itself;
- ``timers.py`` (``TimerService``, timers and the reaper): the embedded runtime of
  ``podium server local`` and ``podium run`` ticks it in a thread of its own process.

So this folder holds only what makes a process of them: the loop, the leader lock and the clock.
"""
