"""L3: Flow triggers: start executions when executions of other flows change state.

``FlowTriggerService.on_state(execution)`` is called by the executor's shell after each state
change it commits (``on_ended`` for the end). It looks only at flows that declare a Flow
trigger (:class:`FlowTriggerIndex`: the latest revision numbers read at most once a second, a
flow parsed again only when its revision changes), evaluates each trigger with the pure
``engine.schedule.flow_trigger``, keeps multi-flow windows in ``trigger_windows`` and starts
the executions. Each (upstream state change, trigger) is claimed once in
``flow_trigger_events``, so a redelivered event never starts a second execution. It starts them
through ``ExecutionShell`` (engine/services/execution_shell.py), which the execution service
hands it: the execution service imports this module, never the other way round.

A trigger's inputs and labels are rendered with ``trigger.*`` of the execution they start
(``trigger.executionId``...), as Kestra does. A trigger that fails (a condition, its inputs or
labels that do not render, a flow that refuses the execution) starts nothing and says so through
:class:`~engine.services.trigger_errors.TriggerErrors`.

:class:`TriggerSwitch` enables or disables a trigger for the ``trigger.Toggle`` task.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from threading import Lock
from typing import Any

from engine.errors import NotFound, PodiumError
from engine.ids import derived_id
from engine.model.execution import Execution, ExecutionTrigger
from engine.model.flow import Flow
from engine.model.task import LogLevel
from engine.model.trigger_key import TriggerKey
from engine.persistence.trigger_windows import EventKey, TriggerWindowRepository
from engine.persistence.triggers import TriggerState
from engine.plugins.core.triggers import FlowTrigger
from engine.schedule.flow_trigger import (
    FLOW_TRIGGER_TYPE,
    Match,
    Upstream,
    listens_to,
    match,
    render_inputs,
    render_labels,
    start_context,
)
from engine.schedule.flow_window import plan_windows
from engine.services.execution_shell import ExecutionShell
from engine.services.flows import FlowCatalog
from engine.services.runtime import Env
from engine.services.trigger_errors import TriggerErrors
from engine.variables import build_variables

log = logging.getLogger(__name__)
EVENT_RETENTION = timedelta(days=7)
MAINTAIN_EVERY = 500


@dataclass(frozen=True)
class Candidate:
    """One Flow trigger of one deployed flow (its latest revision)."""

    flow: Flow
    trigger: FlowTrigger

    @property
    def key(self) -> TriggerKey:
        return TriggerKey(self.flow.namespace, self.flow.id, self.trigger.id)


@dataclass(frozen=True)
class _Entry:
    revision: int
    candidates: tuple[Candidate, ...]


class FlowTriggerIndex:
    """The Flow triggers of the deployed flows, kept in memory per process.

    A refresh reads the latest revision number of each flow (no source) and parses only the
    flows whose revision changed, so 1,000 flows are not parsed per ended execution. It runs at
    most every ``max_age`` seconds, not once per state change of every execution (a query added
    to each executor step), and at once after a deploy through this process's catalog: a flow
    deployed by another process is seen within ``max_age``, as Kestra's executors see flows
    through their flow queue.
    """

    def __init__(self, catalog: FlowCatalog, repository: TriggerWindowRepository, *,
                 max_age: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.catalog, self.repository = catalog, repository
        self.max_age, self._clock = max_age, clock
        self._entries: dict[tuple[str, str], _Entry] = {}
        self._refreshed: float | None = None
        self._deploys = 0  # deploys seen through the catalog: one during a refresh voids it
        self._lock = Lock()
        catalog.deploy_hooks.append(lambda _flow: self.invalidate())

    def invalidate(self) -> None:
        self._deploys += 1
        self._refreshed = None

    def cached(self) -> list[Candidate] | None:
        """The candidates as last read, without reading (None: never read in this process)."""
        if self._refreshed is None and not self._entries:
            return None
        with self._lock:
            return [c for entry in self._entries.values() for c in entry.candidates]

    def candidates(self) -> list[Candidate]:
        refreshed, now = self._refreshed, self._clock()
        if refreshed is not None and now - refreshed < self.max_age:
            with self._lock:
                return [c for entry in self._entries.values() for c in entry.candidates]
        deploys = self._deploys
        latest = {(r.namespace, r.flow_id): r for r in self.repository.latest_revisions()}
        if deploys == self._deploys:
            self._refreshed = now
        with self._lock:
            for key in set(self._entries) - set(latest):
                del self._entries[key]
            for key, revision in latest.items():
                entry = self._entries.get(key)
                if entry is None or entry.revision != revision.revision:
                    found = () if revision.deleted else self._parse(*key, revision.revision)
                    self._entries[key] = _Entry(revision.revision, found)
            return [c for entry in self._entries.values() for c in entry.candidates]

    def _parse(self, namespace: str, flow_id: str, revision: int) -> tuple[Candidate, ...]:
        try:
            flow = self.catalog.get(namespace, flow_id, revision)
        except (PodiumError, NotFound) as err:  # a stored flow that no longer parses has no trigger
            log.warning("flow %s.%s revision %s ignored by Flow triggers: %s", namespace, flow_id, revision, err)
            return ()
        if flow.disabled:
            return ()
        return tuple(Candidate(flow, t) for t in flow.triggers or [] if isinstance(t, FlowTrigger))


class FlowTriggerService:
    def __init__(self, env: Env, catalog: FlowCatalog, shell: ExecutionShell) -> None:
        self.env, self.shell = env, shell
        self.windows = env.trigger_windows
        self.states = env.trigger_states
        self.index = FlowTriggerIndex(catalog, self.windows)
        self.errors = TriggerErrors(env)
        self._calls = 0

    def may_listen(self, execution: Execution) -> bool:
        """Whether a Flow trigger may start something when ``execution`` ends, without reading
        the database (inside the executor's step): True unless the known triggers all ignore it."""
        known = self.index.cached()
        if known is None:
            return True
        upstream = upstream_of(execution)
        return any(listens_to(c.trigger, c.flow.namespace, c.flow.id, upstream) for c in known)

    def on_state(self, execution: Execution) -> list[Execution]:
        """Evaluates every Flow trigger for ``execution``'s current state; returns what started.

        A failure in one trigger is logged and does not stop the others (nor the caller).
        """
        upstream = upstream_of(execution)
        started: list[Execution] = []
        for candidate in self.index.candidates():
            if not listens_to(candidate.trigger, candidate.flow.namespace, candidate.flow.id, upstream):
                continue
            try:
                child = self._evaluate(candidate, execution, upstream)
            except Exception as err:  # isolate triggers from each other and the executor
                log.debug("Flow trigger %s failed", candidate.key.describe(), exc_info=True)
                self.errors.report(candidate.key, f"Flow trigger failed for {execution.describe()}: {err}")
                continue
            if child is not None:
                started.append(child)
        self._maintain()
        return started

    def _evaluate(self, candidate: Candidate, execution: Execution, upstream: Upstream) -> Execution | None:
        variables = build_variables(candidate.flow, execution, extra=self.shell.extra_variables())
        renderer = self.env.renderer(candidate.flow.namespace)
        found = match(candidate.trigger, candidate.flow.namespace, candidate.flow.id, upstream, variables,
                      renderer.render_typed)
        for error in found.errors:
            self.errors.report(candidate.key, f"condition not evaluated for {execution.describe()}: {error}",
                               level=LogLevel.WARN)
        if not found.listens or self._disabled(candidate):
            return None
        key = EventKey(execution.id, len(execution.state.histories), candidate.key)
        outputs = self.claim(key, found, upstream)
        if outputs is None:
            return None
        context = start_context(variables, upstream)
        try:
            inputs = render_inputs(candidate.trigger, context, outputs, renderer.render_value)
        except Exception as err:  # noqa: BLE001 - Kestra logs and starts nothing
            self._not_started(candidate, key, execution, f"invalid inputs: {err}")
            return None
        try:
            labels = render_labels(candidate.trigger, context, renderer.render_value)
        except Exception as err:  # noqa: BLE001 - as for inputs
            self._not_started(candidate, key, execution, f"invalid labels: {err}")
            return None
        return self._start(candidate, upstream, inputs, labels, key)

    def _not_started(self, candidate: Candidate, key: EventKey, upstream: Execution, reason: str) -> None:
        """Reports why the fire decided for ``key`` starts nothing, and marks it handled."""
        flow = candidate.flow
        self.errors.report(candidate.key, f"Failed to trigger flow {flow.namespace}.{flow.id} for trigger "
                           f"{candidate.trigger.id} after {upstream.describe()}, {reason}", level=LogLevel.WARN)
        self.windows.record_fired(key, None)

    def _disabled(self, candidate: Candidate) -> bool:
        key = candidate.key
        state = self.states.get(key.namespace, key.flow_id, key.trigger_id)
        return state is not None and state.disabled

    def claim(self, key: EventKey, found: Match, upstream: Upstream) -> Mapping[str, Any] | None:
        """Claims the event and updates the windows in one transaction; returns the outputs
        the started execution sees as ``trigger.outputs``, or None when nothing fires.

        A fire is kept with the claim until its execution is recorded: if the process died in
        between, the same state change evaluated again (its execution's pending ``ended``
        command, docs/reliability.md) starts it then, with the outputs decided the first time."""
        now = self.env.clock()
        with self.env.db.transaction() as session:
            if found.needs_windows:
                self.windows.lock(key.trigger, session)
            if not self.windows.claim_event(key, now, session=session):
                return self.windows.unstarted_fire(key, session=session)  # handled, unless it died midway
            outputs: Mapping[str, Any] | None = upstream.outputs
            if found.needs_windows:
                stored = self.windows.windows(key.trigger, now, session=session)
                plan = plan_windows([(hit.spec, hit.met) for hit in found.hits], stored, upstream.outputs, now)
                for window in plan.save:
                    self.windows.save(key.trigger, window, now, session=session)
                for window in plan.delete:
                    self.windows.delete(key.trigger, window, session=session)
                outputs = {**plan.outputs, **upstream.outputs} if plan.fire else None
            if outputs is not None:
                self.windows.keep_fire(key, outputs, session=session)
            return outputs

    def _start(self, candidate: Candidate, upstream: Upstream, inputs: Mapping[str, Any],
               labels: Mapping[str, str], key: EventKey) -> Execution | None:
        flow, trigger = candidate.flow, candidate.trigger
        execution_trigger = ExecutionTrigger(id=trigger.id, type=FLOW_TRIGGER_TYPE,
                                             variables=upstream.trigger_variables())
        # One id per (state change, trigger): a fire evaluated twice starts one execution.
        execution_id = derived_id("flow-trigger", key.execution_id, key.state_index, key.trigger.namespace,
                                  key.trigger.flow_id, key.trigger.trigger_id)
        try:
            started = self.shell.start_execution(
                flow.namespace, flow.id, inputs=inputs, labels=labels,
                revision=flow.revision, trigger=execution_trigger, validate_inputs=False,
                execution_id=execution_id)  # found, if a first evaluation started it and died
        except PodiumError as err:
            self.errors.report(candidate.key, f"cannot start {flow.namespace}.{flow.id}: {err}",
                               level=LogLevel.WARN)
            self.windows.record_fired(key, None)
            return None
        self.windows.record_fired(key, started.id)
        return started

    def _maintain(self) -> None:
        """Now and then, forgets ended windows and old handled events."""
        self._calls += 1
        if self._calls % MAINTAIN_EVERY:
            return
        now = self.env.clock()
        self.windows.purge_expired(now)
        self.windows.prune_events(now - EVENT_RETENTION)


def upstream_of(execution: Execution) -> Upstream:
    return Upstream(execution_id=execution.id, namespace=execution.namespace, flow_id=execution.flow_id,
                    flow_revision=execution.flow_revision, state=execution.state.current,
                    labels=execution.label_map, outputs=dict(execution.outputs))


class TriggerSwitch:
    """Enables or disables a trigger through its stored state (``trigger.Toggle``)."""

    def __init__(self, env: Env, catalog: FlowCatalog) -> None:
        self.env, self.catalog = env, catalog
        self.states = env.trigger_states

    def set_enabled(self, namespace: str, flow_id: str, trigger_id: str, enabled: bool) -> None:
        try:
            flow = self.catalog.get(namespace, flow_id)
        except NotFound:
            raise LookupError(f"Unable to find flow {namespace}.{flow_id}. Make sure the flow exists "
                              "and the current execution is authorized to access it.") from None
        declared = [t.id for t in flow.triggers or []]
        if trigger_id not in declared:
            raise LookupError(f"Unable to find trigger {trigger_id} for the flow {namespace}.{flow_id}; "
                              f"its triggers are: {', '.join(declared) or 'none'}")
        with self.env.db.transaction() as session:
            current = self.states.get(namespace, flow_id, trigger_id, session=session)
            state = current or TriggerState(namespace=namespace, flow_id=flow_id, trigger_id=trigger_id)
            self.states.save(replace(state, disabled=not enabled), self.env.clock(), session=session)
