"""L3: executor events as JSON messages (what travels through the broker) and back.

A message is ``{"type": "<EventClassName>", ...fields}``; enums travel as their values and
tuples as lists. Decoding checks the type name against the known event classes only. The
executor's pending commands are kept in the same form (``encode_command``, ``decode_command``).
``send_event`` encodes an event and hands it to the dispatcher, for every service that reports
to the executor.
"""
from __future__ import annotations

import dataclasses
import functools
import typing
from enum import Enum
from typing import Any, cast

from engine.dispatch import Dispatcher
from engine.errors import PodiumError
from engine.executor import commands as cmd
from engine.executor import events as ev

EVENT_TYPES: dict[str, type] = {
    cls.__name__: cls for cls in (ev.Start, ev.TaskRunResult, ev.LeaseExpired, ev.TimerFired, ev.SubflowStarted,
                                  ev.SubflowEnded, ev.ItemsSplit, ev.ItemsMerged, ev.Kill,
                                  ev.Resume, ev.Wake)
}


# The commands kept in ``pending_commands`` with their arguments (engine/services/pending_commands.py).
COMMAND_TYPES: dict[str, type] = {
    cls.__name__: cls for cls in (cmd.StartSubflow, cmd.SplitItems, cmd.MergeItemsOutputs)
}
KeptCommand = cmd.StartSubflow | cmd.SplitItems | cmd.MergeItemsOutputs


class BadMessage(PodiumError, ValueError):
    pass


def encode_event(event: ev.Event | cmd.Command) -> dict[str, Any]:
    body = {field.name: _plain(getattr(event, field.name)) for field in dataclasses.fields(event)}
    return {"type": type(event).__name__, **body}


encode_command = encode_event


def send_event(dispatcher: Dispatcher, execution_id: str, event: ev.Event) -> None:
    """Sends ``event`` to the executor, to be applied to the execution ``execution_id``."""
    dispatcher.send_event(execution_id, encode_event(event))


def decode_event(message: dict[str, Any]) -> Any:
    # Any rather than ev.Event: callers read the fields of the one event type they expect.
    return _decode(message, EVENT_TYPES, "executor event")


def decode_command(message: dict[str, Any]) -> KeptCommand:
    return cast(KeptCommand, _decode(message, COMMAND_TYPES, "pending command"))


def _decode(message: dict[str, Any], types: dict[str, type], what: str) -> object:
    name = message.get("type")
    cls = types.get(str(name))
    if cls is None:
        raise BadMessage(f"unknown {what} type {name!r}; known: {', '.join(sorted(types))}")
    hints = _hints(cls)
    values = {}
    for field in dataclasses.fields(cls):
        if field.name in message:
            values[field.name] = _typed(message[field.name], hints[field.name])
    return cls(**values)


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    # get_type_hints evaluates every (string) annotation: once per class, not once per message
    return typing.get_type_hints(cls, {**vars(cmd), **vars(ev)})


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _typed(value: Any, hint: Any) -> Any:
    """Rebuilds enums and tuples that JSON flattened; everything else is already plain data."""
    options = typing.get_args(hint) if typing.get_origin(hint) is typing.Union else (hint,)
    for option in options:
        if isinstance(option, type) and issubclass(option, Enum) and value is not None:
            return option(value)
        if typing.get_origin(option) is tuple and isinstance(value, list):
            return tuple(value)
    return value
