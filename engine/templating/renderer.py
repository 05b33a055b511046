"""L1 pure core: the Renderer, Kestra's VariableRenderer on a sandboxed Jinja2.

Pebble source is translated to Jinja source once per distinct template (cached per
Renderer, bounded), then evaluated against the caller's context. All failures come out
as ExpressionError with the expression quoted.
"""
from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import Template, TemplateError, Undefined, pass_context
from jinja2.exceptions import SecurityError, TemplateAssertionError, TemplateSyntaxError
from jinja2.runtime import Context

from engine.templating import filters_data, filters_text
from engine.templating.budget import Budget, ExpressionLimits
from engine.templating.environment import MissingVariable, new_environment
from engine.templating.errors import ExpressionError
from engine.templating.functions import Bound
from engine.templating.guards import Guards
from engine.templating.io import ExpressionIO, NoIO, SwitchedIO
from engine.templating.jq_process import JqProcesses
from engine.templating.operators import RUNTIME_GLOBALS, check_defined
from engine.templating.predicates import TESTS
from engine.templating.translate import Translation, translate

MAX_RENDER_PASSES = 100
_CACHE_SIZE = 512
_LENIENT_FILTERS = frozenset({"default"})


def is_template(text: str) -> bool:
    """Whether `text` holds an expression, a tag or a comment (else it renders to itself)."""
    return isinstance(text, str) and ("{{" in text or "{%" in text or "{#" in text)


@dataclass(frozen=True)
class _Compiled:
    translation: Translation
    template: Template
    expression: Callable[..., Any] | None


def _guarded(function: Callable[..., Any], budget: Budget) -> Callable[..., Any]:
    """A function with its result checked against the size caps, and undefined arguments failing
    with the strict message instead of reaching it (the clock is looked at in ``call``)."""
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        check_defined(*(a for a in args if isinstance(a, Undefined)), *kwargs.values())
        return budget.check_size(function(*args, **kwargs))
    return wrapper


def _guarded_filter(function: Callable[..., Any], budget: Budget, strict: bool) -> Callable[..., Any]:
    """``_guarded`` for a filter, which also looks at the clock (filters are not calls). Marked as
    taking the context (which it ignores): Jinja runs a filter with constant arguments while
    compiling otherwise, outside any render's budget."""
    @pass_context
    @functools.wraps(function)
    def wrapper(context: Context, *args: Any, **kwargs: Any) -> Any:
        if strict:
            check_defined(*(a for a in args if isinstance(a, Undefined)), *kwargs.values())
        budget.check_time()
        return budget.check_size(function(*args, **kwargs))
    return wrapper


class _SecretUse(threading.local):
    """Whether the render running on this thread called ``secret()``."""

    read: bool = False


class Renderer:
    """Renders Kestra (Pebble) expressions. Thread-safe; one per process is enough.

    Each render runs under ``limits`` (budget.py); ``jq`` runs the jq filter in helper processes
    and is best shared by the renderers of a process (one is made when none is given).
    ``redact``, when given, is applied to the result of a render that called ``secret()`` (the
    executor stores what it renders, so it masks the secret there; a task masks its own outputs).
    """

    def __init__(self, io: ExpressionIO | None = None, *, default_timezone: str = "UTC",
                 cache_size: int = _CACHE_SIZE, limits: ExpressionLimits | None = None,
                 jq: JqProcesses | None = None, redact: Callable[[Any], Any] | None = None) -> None:
        self.io: ExpressionIO = io if io is not None else NoIO()
        self.default_timezone = default_timezone
        self.budget = Budget(limits)
        self._cache: OrderedDict[str, _Compiled] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self._redact = redact
        self._secret_use = _SecretUse()
        self._env = new_environment(self.budget)
        bound = Bound(self.io, default_timezone, self._render_hook, self.budget, self._note_secret)
        guards = Guards(self.budget, jq if jq is not None else JqProcesses(self.budget.limits.jq_memory_mb))
        self._env.globals.update(RUNTIME_GLOBALS)
        self._env.globals.update(guards.runtime_globals())
        functions = {**bound.functions(), **guards.functions()}
        self._env.globals.update({k: _guarded(v, self.budget) for k, v in functions.items()})
        filters = {**filters_text.FILTERS, **filters_data.FILTERS, **bound.filters(), **guards.filters()}
        self._env.filters.update({k: _guarded_filter(v, self.budget, strict=k not in _LENIENT_FILTERS)
                                  for k, v in filters.items()})
        self._env.tests.update(TESTS)

    # -- public API -------------------------------------------------------------------
    def render(self, template: str, context: Mapping[str, Any]) -> str:
        """Render to text; a string without `{{`, `{%` or `{#` is returned unchanged."""
        if not is_template(template):
            return template
        compiled = self._compile(template)
        return str(self._guard(template, compiled, lambda: self._write(compiled.template, context)))

    def render_typed(self, template: str, context: Mapping[str, Any]) -> Any:
        """The native value when `template` is one `{{ expr }}`, else the rendered text."""
        if not is_template(template):
            return template
        compiled = self._compile(template)
        if compiled.expression is None:
            return self.render(template, context)
        expression = compiled.expression
        return self._guard(template, compiled, lambda: self._value(expression(**dict(context))))

    def render_value(self, value: Any, context: Mapping[str, Any], *, typed: bool = False) -> Any:
        """Render every string inside dicts/lists (keys too); other values are left alone."""
        if isinstance(value, str):
            return self.render_typed(value, context) if typed else self.render(value, context)
        if isinstance(value, Mapping):
            return {self.render(k, context) if isinstance(k, str) else k:
                    self.render_value(v, context, typed=typed) for k, v in value.items()}
        if isinstance(value, list):
            return [self.render_value(v, context, typed=typed) for v in value]
        if isinstance(value, tuple):
            return tuple(self.render_value(v, context, typed=typed) for v in value)
        return value

    def bound(self, io: ExpressionIO) -> BoundRenderer:
        """This renderer, rendering with ``io``: it must have been built on a SwitchedIO."""
        if not isinstance(self.io, SwitchedIO):
            raise TypeError("Renderer.bound needs a Renderer built with io=SwitchedIO()")
        return BoundRenderer(self, self.io, io)

    # -- internals ----------------------------------------------------------------------
    def _note_secret(self) -> None:
        self._secret_use.read = True

    def _write(self, template: Template, context: Mapping[str, Any]) -> str:
        """The template's text, chunk by chunk, within the text cap and the time budget."""
        chunks: list[str] = []
        length, limit = 0, self.budget.limits.max_text_length
        # No look at the clock here: a template without loops has few chunks, and loops look.
        for chunk in template.root_render_func(template.new_context(dict(context))):
            length += len(chunk)
            if length > limit:
                self.budget.check_text(length)
            chunks.append(chunk)
        return "".join(chunks)

    def _value(self, value: Any) -> Any:
        check_defined(value)
        self.budget.check_serialisable(value)
        return self.budget.check_size(value)

    def _render_hook(self, template: str, context: Mapping[str, Any], recursive: bool) -> str:
        result = self.render(template, context)
        passes = 1
        while recursive and is_template(result) and result != template:
            if passes >= MAX_RENDER_PASSES:
                raise ExpressionError(f"render() stopped after {MAX_RENDER_PASSES} passes: "
                                      "the value keeps producing new expressions", expression=template)
            template, result = result, self.render(result, context)
            passes += 1
        return result

    def _compile(self, template: str) -> _Compiled:
        with self._lock:
            cached = self._cache.get(template)
            if cached is not None:
                self._cache.move_to_end(template)
                return cached
        compiled = self._build(template)
        with self._lock:
            self._cache[template] = compiled
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return compiled

    def _build(self, template: str) -> _Compiled:
        translation = translate(template, lambda name: name in self._env.globals)
        try:
            jinja_template = self._env.from_string(translation.source)
            expression = None
            if translation.expression is not None:
                expression = self._env.compile_expression(translation.expression, undefined_to_none=False)
        except TemplateAssertionError as error:
            raise ExpressionError(_assertion_message(error), expression=template) from None
        except TemplateSyntaxError as error:
            raise ExpressionError(f"Syntax error: {error.message}", expression=template,
                                  line=error.lineno) from None
        return _Compiled(translation, jinja_template, expression)

    def _guard(self, template: str, compiled: _Compiled, run: Callable[[], Any]) -> Any:
        started = self.budget.start()
        if started:
            self._secret_use.read = False
        try:
            result = run()
            if started and self._redact is not None and self._secret_use.read:
                result = self._redact(result)
            return result
        except ExpressionError as error:
            if error.expression is not None:
                raise
            raise ExpressionError(error.reason, expression=template) from None
        except MissingVariable as error:
            raise _missing(error, compiled.translation, template) from None
        except SecurityError as error:
            raise ExpressionError(str(error), expression=template) from None
        except TemplateError as error:
            raise ExpressionError(f"Cannot render: {error.message}", expression=template) from None
        except RecursionError:
            raise ExpressionError("Expression nesting is too deep", expression=template) from None
        except MemoryError:
            raise ExpressionError("Expression ran out of memory", expression=template) from None
        except Exception as error:  # noqa: BLE001 - a user expression must never leak a traceback
            raise ExpressionError(f"Cannot evaluate: {_describe(error)}", expression=template) from None
        finally:
            if started:
                self.budget.stop()


@dataclass(frozen=True)
class BoundRenderer:
    """A shared Renderer (and its compiled templates) rendering with one caller's I/O."""

    renderer: Renderer
    switch: SwitchedIO
    io: ExpressionIO

    def render(self, template: str, context: Mapping[str, Any]) -> str:
        with self.switch.using(self.io):
            return self.renderer.render(template, context)

    def render_typed(self, template: str, context: Mapping[str, Any]) -> Any:
        with self.switch.using(self.io):
            return self.renderer.render_typed(template, context)

    def render_value(self, value: Any, context: Mapping[str, Any], *, typed: bool = False) -> Any:
        with self.switch.using(self.io):
            return self.renderer.render_value(value, context, typed=typed)


def _describe(error: Exception) -> str:
    text = str(error)
    if isinstance(error, TypeError) and "argument" in text:
        return f"wrong arguments ({text})"
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _assertion_message(error: TemplateAssertionError) -> str:
    text = error.message or ""
    for kind in ("filter", "test"):
        prefix = f"No {kind} named '"
        if text.startswith(prefix):
            return f"Unknown {kind} `{text[len(prefix):].split(chr(39))[0]}`"
    return f"Invalid expression: {text}"


def _missing(error: MissingVariable, translation: Translation, template: str) -> ExpressionError:
    """Kestra's message, with the full dotted path when the template shows it."""
    path, segment = error.name, template
    for parts, source in translation.paths:
        if error.rooted and parts[0] == error.name:
            segment = source
            break
        if not error.rooted and error.name in parts[1:]:
            path = ".".join(parts[:parts.index(error.name, 1) + 1])
            segment = source
            break
    return ExpressionError(f"Unable to find `{path}` used in the expression `{segment}`",
                           expression=segment)
