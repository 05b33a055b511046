"""L2: running runnable tasks on a worker.

``context.RunContext`` is a task's only door to the world (its collaborators are the protocols of
``protocols``); ``runner.run_task`` runs one attempt; each ``*_tasks`` module implements the
built-in runnable tasks of one group of ``engine.plugins.core`` (``kv_tasks`` runs ``kv.Set``,
``kv.Get``...), and its specs name it as their ``implementation``.
"""
