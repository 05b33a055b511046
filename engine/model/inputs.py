"""L1 pure core: flow inputs: the input type models by name, and the ``Input`` field that picks one.

The models themselves live in ``engine.model.input_types``; this module maps a ``type`` name to its
model, so a flow's (or a Pause ``onResume``'s) raw input is validated by the right one. ``ARRAY``
lives here rather than with the other models because its items are parsed through that map.
"""
from __future__ import annotations

import difflib
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationInfo, ValidatorFunctionWrapHandler, WrapValidator, model_validator

from engine.model.input_file import FileInput
from engine.model.input_types import (
    BooleanInput,
    BoolInput,
    DateInput,
    DatetimeInput,
    DurationInput,
    EmailInput,
    EnumInput,
    FloatInput,
    InputBase,
    IntInput,
    JsonInput,
    MultiselectInput,
    SecretInput,
    SelectInput,
    StringInput,
    TimeInput,
    UriInput,
    YamlInput,
    field_error,
    json_list,
)
from engine.model.input_values import kind


class ArrayInput(InputBase):
    type_name = "ARRAY"
    type: Literal["ARRAY"]
    item_type: str = Field(description="Type of every item; any input type but ARRAY.")

    @model_validator(mode="after")
    def _item_type_known(self) -> ArrayInput:
        if self.item_type == "ARRAY":
            raise field_error("itemType", "`itemType` cannot be `ARRAY`", self.item_type)
        if self.item_type not in INPUT_TYPES:
            raise field_error("itemType", invalid_type_message(self.item_type), self.item_type)
        return self

    def parse(self, value: Any) -> Any:
        item = INPUT_TYPES[self.item_type].model_construct(id=self.id, type=self.item_type)
        return [item.parse(v) for v in json_list(value)]


INPUT_MODELS: tuple[type[InputBase], ...] = (
    StringInput, EnumInput, SelectInput, MultiselectInput, IntInput, FloatInput, BooleanInput,
    BoolInput, DatetimeInput, DateInput, TimeInput, DurationInput, FileInput, JsonInput, YamlInput,
    UriInput, SecretInput, ArrayInput, EmailInput)
INPUT_TYPES: dict[str, type[InputBase]] = {model.type_name: model for model in INPUT_MODELS}
# Kestra's ``Type`` enum: what a flow output's ``type`` may be.
OUTPUT_TYPES = tuple(INPUT_TYPES)


def invalid_type_message(type_name: Any) -> str:
    close = difflib.get_close_matches(str(type_name).upper(), INPUT_TYPES, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return f"Invalid type: {type_name}{hint}; use one of {', '.join(INPUT_TYPES)}"


def _parse_input(value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo) -> Any:
    if isinstance(value, InputBase):
        return value
    if not isinstance(value, dict):
        raise ValueError(f"an input must be a mapping with 'id' and 'type', got {kind(value)}")
    type_name = value.get("type")
    if type_name is None:
        raise field_error("type", f"missing required property 'type' (one of {', '.join(INPUT_TYPES)})",
                          None, "missing")
    model = INPUT_TYPES.get(type_name) if isinstance(type_name, str) else None
    if model is None:
        raise field_error("type", invalid_type_message(type_name), type_name)
    return model.model_validate(value, context=info.context)


# A flow input (or a Pause ``onResume`` input), parsed by the model of its ``type``.
Input = Annotated[Any, WrapValidator(_parse_input)]
