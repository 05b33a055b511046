"""L1 pure core: the small syntax tree of a Pebble expression (parser output, emitter input)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Node:
    pos: int


@dataclass(frozen=True)
class Literal(Node):
    value: Any


@dataclass(frozen=True)
class Name(Node):
    name: str


@dataclass(frozen=True)
class Attr(Node):
    """`obj.name`, or `obj['name']` with a constant string key."""
    obj: Node
    name: str


@dataclass(frozen=True)
class Item(Node):
    obj: Node
    key: Node


@dataclass(frozen=True)
class Call(Node):
    func: Node
    args: tuple[Node, ...] = ()
    kwargs: tuple[tuple[str, Node], ...] = ()


@dataclass(frozen=True)
class Filter(Node):
    value: Node
    name: str
    args: tuple[Node, ...] = ()
    kwargs: tuple[tuple[str, Node], ...] = ()


@dataclass(frozen=True)
class Test(Node):
    value: Node
    name: str
    negated: bool = False
    args: tuple[Node, ...] = ()


@dataclass(frozen=True)
class Unary(Node):
    op: str
    operand: Node


@dataclass(frozen=True)
class Binary(Node):
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Ternary(Node):
    cond: Node
    then: Node
    other: Node


@dataclass(frozen=True)
class ListLit(Node):
    items: tuple[Node, ...] = ()


@dataclass(frozen=True)
class MapLit(Node):
    pairs: tuple[tuple[Node, Node], ...] = field(default=())


@dataclass(frozen=True)
class Interpolation(Node):
    """A double-quoted string with `#{expr}` parts: concatenated at runtime."""
    parts: tuple[Node, ...] = ()
