"""L1 pure core: Kestra's Pebble expression language (`{{ inputs.x ?? 'y' }}`) on a sandboxed Jinja2.

Public interface: Renderer (render, render_typed, render_value), ExpressionIO (what
expressions may ask of the outside), ExpressionError, is_template, and the
ExpressionLimits and JqProcesses a process shares between its Renderers. See docs/expressions.md.
"""
from __future__ import annotations

from engine.templating.budget import ExpressionLimits
from engine.templating.errors import ExpressionError
from engine.templating.io import ExpressionIO, NoIO
from engine.templating.jq_process import JqProcesses
from engine.templating.renderer import MAX_RENDER_PASSES, Renderer, is_template

__all__ = ["ExpressionError", "ExpressionIO", "ExpressionLimits", "JqProcesses", "NoIO", "Renderer",
           "is_template", "MAX_RENDER_PASSES"]
