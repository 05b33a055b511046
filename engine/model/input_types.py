"""L1 pure core: one options model per Kestra input type (``STRING``, ``INT``...).

Each model knows its validation properties and how to turn a raw value (a string from a form, or
a typed value from YAML or a trigger) into the typed, JSON-friendly value that expressions see
(:meth:`InputBase.parse` then :meth:`InputBase.check`), with the parsers of
``engine.model.input_values``. Runtime resolution (defaults, ``dependsOn``, files) lives in
``engine.inputs``, which depends on these models. Messages follow Kestra's ``it must ...`` wording so
that ``engine.inputs`` can build ``Invalid input for `id`, <message>, but received `<value>```.
``ARRAY`` lives in ``engine.model.inputs``, next to the map of types by name that parses its items;
``FILE`` in ``engine.model.input_file``.
"""
from __future__ import annotations

import math
from typing import Any, ClassVar, Literal

import yaml
from pydantic import Field, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from engine import safe_json, safe_yaml
from engine.durations import DurationError, parse_duration
from engine.model.input_values import (
    as_boolean,
    as_date,
    as_datetime,
    as_duration,
    as_email,
    as_float,
    as_int,
    as_list,
    as_string,
    as_time,
    as_uri,
    java_list,
    temporal_key,
)
from engine.model.task import Duration, is_expression
from engine.plugins.base import Options
from engine.templating.errors import ExpressionError
from engine.templating.patterns import java_regex

#: Longest a STRING input's ``validator`` may take on one value (CPU time, counted by the regex engine).
VALIDATOR_SECONDS = 2.0
INPUT_ID_PATTERN = r"^[a-zA-Z0-9][.a-zA-Z0-9_-]*$"
# Kestra's INT input is a Java Integer (``IntInput extends Input<Integer>``): 32 bits, signed.
INT_MIN, INT_MAX = -(2**31), 2**31 - 1
_INT_RANGE = f"it must be an integer from {INT_MIN} to {INT_MAX}"
_INT_MAX_CHARS = 64  # far longer than any integer in range, with signs, zeros and spaces


def json_list(value: Any) -> list[Any]:
    """``value`` as a list: a list as it is, a text read as a JSON array within ``engine.safe_json``'s
    limits (Python's own parser ends deep arrays in a RecursionError)."""
    if isinstance(value, str):
        try:
            value = safe_json.loads(value)
        except safe_json.JsonLimitError as err:
            raise ValueError(f"it must be a list or a JSON array ({err})") from None
    return as_list(value)


def field_error(field: str, message: str, value: Any, kind: str = "input") -> ValidationError:
    """A validation error located at ``field`` of the model being validated (pydantic nests it)."""
    return ValidationError.from_exception_data(
        "Input", [InitErrorDetails(type=PydanticCustomError(kind, message), loc=(field,), input=value)])


class DependsOn(Options):
    inputs: list[str] = Field(default_factory=list, description="Ids of the inputs this one needs.")
    condition: str | None = Field(None, description="Expression; the input is shown and parsed only "
                                                    "when it renders to true.")


class InputBase(Options):
    """Properties every input type shares (Kestra's ``Input``)."""

    type_name: ClassVar[str] = ""

    id: str = Field(pattern=INPUT_ID_PATTERN, max_length=150,
                    description="Unique in the flow; dots nest the value (`a.b` is `inputs.a.b`).")
    type: str
    description: str | None = None
    display_name: str | None = Field(None, max_length=64)
    required: bool = True
    defaults: Any = None
    prefill: Any = Field(None, description="Kestra 1.1: the value when the caller gives none; unlike "
                                           "`defaults`, a caller may clear it (null) when not required.")
    depends_on: DependsOn | None = None

    @model_validator(mode="before")
    @classmethod
    def _name_is_id(cls, data: Any) -> Any:
        # ``name`` is Kestra's deprecated spelling of ``id``.
        if isinstance(data, dict) and "name" in data:
            data = dict(data)
            name = data.pop("name")
            data.setdefault("id", name)
        return data

    @model_validator(mode="after")
    def _defaults_match_type(self) -> InputBase:
        if self.defaults is not None and self.prefill is not None:
            raise field_error("prefill", "`prefill` and `defaults` cannot be used together: keep `prefill` "
                                         "for a value the caller may clear, `defaults` for one always set",
                              self.prefill)
        for name in ("defaults", "prefill"):
            value = getattr(self, name)
            if value is None or isinstance(value, str) and is_expression(value):
                continue  # an expression is rendered when the execution is created (Kestra 1.0+)
            try:
                self.check(self.parse(value))
            except ValueError as err:
                raise field_error(name, f"`{name}` does not fit the {self.type} input: {err}", value) from None
        return self

    def parse(self, value: Any) -> Any:
        """The typed value of ``value``; raises ValueError with Kestra's wording."""
        return value

    def check(self, value: Any) -> None:
        """Raises ValueError when a parsed value breaks a validation property."""


def _compiles(pattern: str | None) -> str | None:
    if pattern is not None:
        try:
            java_regex(pattern)
        except ExpressionError as err:
            reason = str(err).split(": ", 1)[-1]  # the pattern is quoted once, here
            raise ValueError(f"invalid pattern [{pattern}]: {reason}") from None
    return pattern


class _Regex(InputBase):
    validator: str | None = Field(None, description="Regular expression the whole value must match.")

    @model_validator(mode="after")
    def _validator_compiles(self) -> _Regex:
        try:
            _compiles(self.validator)
        except ValueError as err:
            raise field_error("validator", str(err), self.validator) from None
        return self

    def parse(self, value: Any) -> Any:
        return as_string(value)

    def check(self, value: Any) -> None:
        if self.validator is None:
            return
        try:
            # the validator is the flow author's and the value the caller's: a backtracking pattern
            # must not stall the process that creates the execution
            matched = java_regex(self.validator).fullmatch(value, timeout=VALIDATOR_SECONDS, concurrent=True)
        except TimeoutError:
            raise ValueError(f"the pattern `{self.validator}` took more than {VALIDATOR_SECONDS:g} s on this value; "
                             "simplify the input's validator (nested repeats such as (a+)+ backtrack)") from None
        if matched is None:
            raise ValueError(f"it must match the pattern `{self.validator}`")


class StringInput(_Regex):
    type_name = "STRING"
    type: Literal["STRING"]


class SecretInput(_Regex):
    type_name = "SECRET"
    type: Literal["SECRET"]


class EmailInput(InputBase):
    type_name = "EMAIL"
    type: Literal["EMAIL"]

    def parse(self, value: Any) -> Any:
        return as_email(value)


class UriInput(InputBase):
    type_name = "URI"
    type: Literal["URI"]

    def parse(self, value: Any) -> Any:
        return as_uri(value)


class ChoiceInput(InputBase):
    values: list[str] | None = None

    def first_value(self) -> Any:
        """What ``autoSelectFirst`` gives: the first allowed value (a one-item list for MULTISELECT)."""
        allowed = self._allowed()
        if not getattr(self, "auto_select_first", False) or not allowed:
            return None
        return [allowed[0]] if self.type == "MULTISELECT" else allowed[0]

    def _allowed(self) -> list[str] | None:
        return self.values

    def check(self, value: Any) -> None:
        allowed = self._allowed()
        custom = getattr(self, "allow_custom_value", False)
        if allowed is None or custom:
            return
        for item in value if isinstance(value, list) else [value]:
            if item not in allowed:
                raise ValueError(f"it must match the values `{java_list(allowed)}`")


class EnumInput(ChoiceInput):
    type_name = "ENUM"
    type: Literal["ENUM"]
    values: list[str] = Field(min_length=1)

    def parse(self, value: Any) -> Any:
        return as_string(value)


class SelectInput(ChoiceInput):
    type_name = "SELECT"
    type: Literal["SELECT"]
    expression: str | None = Field(None, description="Renders to the list of values.")
    allow_custom_value: bool = False
    is_radio: bool = False
    auto_select_first: bool = Field(False, description="Kestra 1.0: without a value or `defaults`, "
                                                       "the first of `values` is taken.")

    @model_validator(mode="after")
    def _needs_values(self) -> SelectInput:
        if self.values is None and self.expression is None:
            raise field_error("values", "a SELECT input needs `values` or `expression`", None)
        return self

    def parse(self, value: Any) -> Any:
        return as_string(value)


class MultiselectInput(ChoiceInput):
    type_name = "MULTISELECT"
    type: Literal["MULTISELECT"]
    options: list[str] | None = Field(None, description="Deprecated: use `values`.")
    expression: str | None = None
    item_type: str = "STRING"
    allow_custom_value: bool = False
    auto_select_first: bool = Field(False, description="Kestra 1.0: without a value or `defaults`, "
                                                       "the first of `values` is taken.")

    @model_validator(mode="after")
    def _needs_values(self) -> MultiselectInput:
        if self.values is None and self.options is None and self.expression is None:
            raise field_error("values", "a MULTISELECT input needs `values` or `expression`", None)
        if self.item_type in ("ARRAY", "MULTISELECT"):
            raise field_error("itemType", f"`itemType` cannot be `{self.item_type}`", self.item_type)
        return self

    def _allowed(self) -> list[str] | None:
        return self.values if self.values is not None else self.options

    def parse(self, value: Any) -> Any:
        return [as_string(v) for v in json_list(value)]


class _Bounded(InputBase):
    def _bounds(self) -> tuple[Any, Any]:
        return getattr(self, "min", None), getattr(self, "max", None)

    def check(self, value: Any) -> None:
        low, high = self._bounds()
        if low is not None and self._key(value) < self._key(low):
            raise ValueError(f"it must be more than `{low}`")
        if high is not None and self._key(value) > self._key(high):
            raise ValueError(f"it must be less than `{high}`")

    def _key(self, value: Any) -> Any:
        return value


class IntInput(_Bounded):
    type_name = "INT"
    type: Literal["INT"]
    min: int | None = Field(None, ge=INT_MIN, le=INT_MAX)
    max: int | None = Field(None, ge=INT_MIN, le=INT_MAX)

    def parse(self, value: Any) -> Any:
        if isinstance(value, str) and len(value.strip()) > _INT_MAX_CHARS:
            raise ValueError(_INT_RANGE)  # before int(), which refuses thousands of digits its own way
        number = as_int(value)
        if not INT_MIN <= number <= INT_MAX:
            raise ValueError(_INT_RANGE)
        return number


class FloatInput(_Bounded):
    type_name = "FLOAT"
    type: Literal["FLOAT"]
    min: float | None = None
    max: float | None = None

    def parse(self, value: Any) -> Any:
        if isinstance(value, str) and len(value.strip()) > safe_yaml.MAX_NUMBER_DIGITS:
            raise ValueError("it must be a number")
        try:
            number = as_float(value)
        except OverflowError:  # an integer too large for a float
            raise ValueError("it must be a number within the range of a 64-bit float") from None
        if math.isinf(number) or math.isnan(number):
            raise ValueError("it must be a finite number")
        return number


class DurationInput(_Bounded):
    type_name = "DURATION"
    type: Literal["DURATION"]
    min: Duration | None = None
    max: Duration | None = None

    def parse(self, value: Any) -> Any:
        return as_duration(value)

    def _key(self, value: Any) -> Any:
        try:
            return parse_duration(value)
        except DurationError as err:
            raise ValueError(str(err)) from None


class _Boolean(InputBase):
    def parse(self, value: Any) -> Any:
        return as_boolean(value)


class BooleanInput(_Boolean):
    type_name = "BOOLEAN"
    type: Literal["BOOLEAN"]


class BoolInput(_Boolean):
    type_name = "BOOL"
    type: Literal["BOOL"]


class _Temporal(InputBase):
    after: str | None = None
    before: str | None = None

    @model_validator(mode="after")
    def _bounds_parse(self) -> _Temporal:
        for name in ("after", "before"):
            bound = getattr(self, name)
            if bound is not None and not is_expression(bound):
                try:
                    self.parse(bound)
                except ValueError as err:
                    raise field_error(name, str(err), bound) from None
        return self

    def check(self, value: Any) -> None:
        if self.after is not None and not self._less(self.after, value):
            raise ValueError(f"it must be after `{self.after}`")
        if self.before is not None and not self._less(value, self.before):
            raise ValueError(f"it must be before `{self.before}`")

    def _less(self, a: str, b: str) -> bool:
        return bool(temporal_key(self.type, a) < temporal_key(self.type, b))


class DatetimeInput(_Temporal):
    type_name = "DATETIME"
    type: Literal["DATETIME"]

    def parse(self, value: Any) -> Any:
        try:
            return as_datetime(value)
        except OverflowError:  # a valid date-time whose UTC instant falls outside years 1..9999
            raise ValueError("it must be a date-time between the years 1 and 9999 in UTC") from None


class DateInput(_Temporal):
    type_name = "DATE"
    type: Literal["DATE"]

    def parse(self, value: Any) -> Any:
        return as_date(value)


class TimeInput(_Temporal):
    type_name = "TIME"
    type: Literal["TIME"]

    def parse(self, value: Any) -> Any:
        return as_time(value)


class JsonInput(InputBase):
    type_name = "JSON"
    type: Literal["JSON"]

    def parse(self, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return safe_json.loads(value)
            except safe_json.JsonLimitError as err:
                raise ValueError(f"it must be valid JSON ({err})") from None
        return value


class YamlInput(InputBase):
    type_name = "YAML"
    type: Literal["YAML"]

    def parse(self, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return safe_yaml.load(value)
            except yaml.YAMLError as err:
                raise ValueError(f"it must be valid YAML ({safe_yaml.one_line(err, value)})") from None
        return value
