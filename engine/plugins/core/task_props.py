"""L1 pure core: property types shared by the options models of Podium's runnable core tasks.

Kestra's ``Property<T>`` accepts either a value of type ``T`` or an ``{{ expression }}`` that
renders to one at run time. The aliases below say the same thing to pydantic: a literal value is
checked now, an expression is kept as text and checked by the task once rendered.
"""
from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator

from engine.model.task import is_expression

_TRUE_FALSE = ("true", "false")


def _expression_or_bool_text(value: Any) -> Any:
    if isinstance(value, str) and not is_expression(value) and value.strip().lower() not in _TRUE_FALSE:
        raise ValueError(f"'{value}' is not a boolean: write true, false or an {{{{ expression }}}}")
    return value


def _expression_or_int_text(value: Any) -> Any:
    if isinstance(value, str) and not is_expression(value):
        try:
            int(value.strip())
        except ValueError:
            raise ValueError(f"'{value}' is not an integer: write a number or an {{{{ expression }}}}") from None
    return value


# bool first so that YAML booleans stay booleans; a string is "true"/"false" or an expression.
DynBool = Annotated[bool | str, AfterValidator(_expression_or_bool_text)]
# int first; a string is a number written as text or an expression.
DynInt = Annotated[int | str, AfterValidator(_expression_or_int_text)]
