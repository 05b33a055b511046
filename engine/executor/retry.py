"""L1 pure core: retry policies: which one applies, whether another attempt is due, and when.

Precedence (Kestra): the task's own ``retry``, then the nearest enclosing flowable task with a
``retry``, then the flow's ``retry`` (for runnable and executable tasks only). Dates follow
Kestra's ``AbstractRetry.nextRetryDate`` implementations, including Exponential's linear formula.
"""
from __future__ import annotations

import random
from datetime import datetime, timedelta

from engine.durations import parse_duration
from engine.executor.tree import FlowTree
from engine.model.task import ConstantRetry, ExponentialRetry, RetryPolicy
from engine.plugins.base import PluginKind


def retry_policy(tree: FlowTree, task_id: str) -> RetryPolicy | None:
    node = tree.node(task_id)
    if node.task.retry is not None:
        return node.task.retry
    for ancestor in tree.ancestors(task_id):
        if ancestor.task.retry is not None:
            return ancestor.task.retry
    if node.kind in (PluginKind.RUNNABLE, PluginKind.EXECUTABLE):
        return tree.flow.retry
    return None


def next_retry_date(policy: RetryPolicy, attempts: int, last_end: datetime, seed: str) -> datetime:
    """When attempt ``attempts + 1`` starts; ``attempts`` counts the attempts made so far.

    Exponential is ``interval × int(delayFactor) × (attempts − 1)``, capped at maxInterval: Kestra's
    ``Exponential.nextRetryDate`` really is linear (and immediate after the first failure).
    Random draws from a generator seeded by the task run and attempt, so replaying the same event
    gives the same date.
    """
    if isinstance(policy, ConstantRetry):
        return last_end + parse_duration(policy.interval)
    if isinstance(policy, ExponentialRetry):
        factor = int(policy.delay_factor) if policy.delay_factor is not None else 2
        delay = parse_duration(policy.interval) * (factor * (attempts - 1))
        return last_end + min(delay, parse_duration(policy.max_interval))
    low = parse_duration(policy.min_interval).total_seconds()
    high = parse_duration(policy.max_interval).total_seconds()
    return last_end + timedelta(seconds=random.Random(f"{seed}:{attempts}").uniform(low, high))


def should_retry(policy: RetryPolicy, attempts: int, first_start: datetime | None, next_date: datetime) -> bool:
    """maxAttempts counts the first attempt; no retry starts after first start + maxDuration."""
    if policy.max_attempts is not None and attempts >= policy.max_attempts:
        return False
    return not (policy.max_duration is not None and first_start is not None
                and next_date > first_start + parse_duration(policy.max_duration))
