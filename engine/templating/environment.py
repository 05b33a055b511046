"""L1 pure core: the sandboxed Jinja2 environment configured the way Kestra configures Pebble.

Strict undefined (chainable so that `a.b.c ?? x` works), no autoescape, newlines kept,
map lookups by key only, and none of Jinja's default globals (cycler, joiner, lipsum,
namespace, dict, range) that Pebble lacks.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jinja2 import StrictUndefined, Undefined
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import missing

from engine.templating.budget import Budget
from engine.templating.output import Entry, output_string


class MissingVariable(UndefinedError):
    """A strict-mode lookup failed. `rooted` means `name` is a top-level variable."""

    def __init__(self, name: str, rooted: bool) -> None:
        self.name = name
        self.rooted = rooted
        super().__init__(f"Unable to find `{name}`")


class PebbleUndefined(StrictUndefined):
    """Fails on any use except `is defined`, `??`, `???` and `| default`."""

    __slots__ = ()

    def _fail_with_undefined_error(self, *args: Any, **kwargs: Any) -> Any:
        raise MissingVariable(str(self._undefined_name), self._undefined_obj is missing)

    # The base classes bound these names to their own function object; rebind to ours.
    __iter__ = __str__ = __len__ = __eq__ = __ne__ = __bool__ = __hash__ = __contains__ = \
        __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = \
        __rtruediv__ = __floordiv__ = __rfloordiv__ = __mod__ = __rmod__ = __pos__ = __neg__ = \
        __call__ = __getitem__ = __lt__ = __le__ = __gt__ = __ge__ = __int__ = __float__ = \
        __complex__ = __pow__ = __rpow__ = _fail_with_undefined_error


class ExpressionSecurityError(SecurityError):
    """Raised as soon as an expression reaches for interpreter internals."""


class PebbleEnvironment(ImmutableSandboxedEnvironment):
    """Lookups follow Pebble: a map attribute is its key, a list takes an index; every call
    (functions, operators, macros) first looks at the render's clock."""

    budget: Budget

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805 - Jinja's names, free for the callee's keyword arguments
        __self.budget.check_time()
        return super().call(__context, __obj, *args, **kwargs)

    def getitem(self, obj: Any, argument: Any) -> Any:
        return self._lookup(obj, argument)

    def getattr(self, obj: Any, attribute: str) -> Any:
        return self._lookup(obj, attribute)

    def _lookup(self, obj: Any, key: Any) -> Any:
        if isinstance(obj, Undefined):
            return obj  # chain: the first missing name is what gets reported
        if isinstance(obj, Mapping):
            return self._map_lookup(obj, key)
        if isinstance(key, str) and key.startswith("__"):
            raise ExpressionSecurityError(
                f"Access to `{key}` on a {type(obj).__name__} is not allowed in expressions")
        if isinstance(obj, (list, tuple, str)):
            return self._index_lookup(obj, key)
        if isinstance(obj, Entry) and key in ("key", "value"):
            return obj.key if key == "key" else obj.value
        if obj is None or not isinstance(key, str):
            return self.undefined(obj=obj, name=str(key))
        if not self.is_safe_attribute(obj, key, None):
            raise ExpressionSecurityError(
                f"Access to `{key}` on a {type(obj).__name__} is not allowed in expressions")
        try:
            return getattr(obj, key)
        except AttributeError:
            return self.undefined(obj=obj, name=key)

    def _map_lookup(self, obj: Mapping[Any, Any], key: Any) -> Any:
        try:
            return obj[key]
        except (KeyError, TypeError):
            pass
        if isinstance(key, int) and str(key) in obj:
            return obj[str(key)]
        return self.undefined(obj=obj, name=str(key))

    def _index_lookup(self, obj: Any, key: Any) -> Any:
        if isinstance(key, str) and key.isdigit():
            key = int(key)
        if isinstance(key, int) and not isinstance(key, bool) and 0 <= key < len(obj):
            return obj[key]
        return self.undefined(obj=obj, name=str(key))

    def unsafe_undefined(self, obj: Any, attribute: str) -> Undefined:
        raise ExpressionSecurityError(
            f"Access to `{attribute}` on a {type(obj).__name__} is not allowed in expressions")


def new_environment(budget: Budget) -> PebbleEnvironment:
    def finalize(value: Any) -> str:
        """What `{{ value }}` writes (undefined values raise the strict error on str())."""
        if type(value) is str:
            return value
        if isinstance(value, Undefined):
            str(value)
        budget.check_serialisable(value)
        return output_string(value)

    # Not `optimized`: Jinja's optimizer runs filters with constant arguments while compiling,
    # outside any render and its budget.
    env = PebbleEnvironment(
        undefined=PebbleUndefined, autoescape=False, keep_trailing_newline=True,
        trim_blocks=False, lstrip_blocks=False, finalize=finalize, cache_size=0,
        auto_reload=False, optimized=False)
    env.budget = budget
    env.globals.clear()
    env.filters.clear()
    env.tests.clear()
    return env
