"""L1 pure core: Kestra's Pebble expression language (`{{ inputs.x ?? 'y' }}`) on a sandboxed Jinja2.

Public interface: Renderer (render, render_typed, render_value), ExpressionIO (what
expressions may ask of the outside), ExpressionError, is_template, and the
ExpressionLimits and JqProcesses a process shares between its Renderers. See docs/expressions.md.

The names are loaded on first use (PEP 562): importing one light submodule (``errors``,
``patterns``) must not build the Jinja2 environment, which ``podium flow validate`` never needs.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.templating.budget import ExpressionLimits
    from engine.templating.errors import ExpressionError
    from engine.templating.io import ExpressionIO, NoIO
    from engine.templating.jq_process import JqProcesses
    from engine.templating.renderer import MAX_RENDER_PASSES, Renderer, is_template

__all__ = ["ExpressionError", "ExpressionIO", "ExpressionLimits", "JqProcesses", "NoIO", "Renderer",
           "is_template", "MAX_RENDER_PASSES"]

# Each public name and the submodule that defines it.
_HOMES = {"ExpressionLimits": "budget", "ExpressionError": "errors", "ExpressionIO": "io", "NoIO": "io",
          "JqProcesses": "jq_process", "MAX_RENDER_PASSES": "renderer", "Renderer": "renderer",
          "is_template": "renderer"}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)
