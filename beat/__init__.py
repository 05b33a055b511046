"""The beat process: Podium's own scheduler for Schedule triggers, backfills, timers (retry delays,
Pause timeouts, WaitFor checks) and the reaper of lost work. Its loop is ``tick(now) -> seconds``
around the pure schedule maths of ``engine``.

``beat.loop.Beat`` holds the loop; start it with ``python -m beat`` or ``podium beat``.
"""
