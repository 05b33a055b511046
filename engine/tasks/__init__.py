"""L2: running runnable tasks on a worker.

``context.RunContext`` is a task's only door to the world; ``runner.run_task`` runs one attempt;
the other modules implement Podium's built-in runnable tasks, named by the specs of
``engine.plugins.core``.
"""
