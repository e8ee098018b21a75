"""The rule language as pydantic models (the contract behind the JSON Schema).

These models check shape and simple values. What needs the whole rule set
or other resources (CEL compilation, action params, templates, ``steps``
references, duplicate ids) is checked by ``engine.validator``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeAlias

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)
from typing_extensions import TypeAliasType

from engine.language.cron import cron_trigger
from engine.language.timezones import check_timezone
from store.durations import parse_duration

RULE_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"
EVENT_PATTERN = r"^(\*|[a-z0-9_]+)(\.(\*|[a-z0-9_]+))*$"
EVENT_TYPE_NAME = r"^[a-z0-9_]+(\.[a-z0-9_]+)+$"  # a declared type: no wildcards
ACTION_OPTION_KEYS = ("id", "if", "delay", "delay_until", "retry", "fallback", "for_each", "as", "group_by")


def matching(pattern: str, message: str, **schema: Any) -> Any:
    """A string checked against ``pattern`` with an admin-friendly message.

    ``Field(pattern=...)`` would report the raw regex; this keeps the regex
    for the JSON Schema and says in words what is expected.
    """
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.match(value):
            raise ValueError(message.format(value=value))
        return value

    return Annotated[str, Field(json_schema_extra={"pattern": pattern, **schema}), AfterValidator(check)]


def _check_duration(value: str) -> str:
    parse_duration(value)
    return value


Duration = Annotated[
    str,
    Field(json_schema_extra={"pattern": r"^\s*(\d+\s*[smhdw]\s*)+$", "examples": ["30s", "15m", "2h"]}),
    AfterValidator(_check_duration),
]
TimeZone = Annotated[str, AfterValidator(check_timezone)]


def time_zone_field(description: str) -> Any:
    """``time_zone``, one name everywhere; ``timezone`` (its name before) is still read."""
    return Field(None, validation_alias=AliasChoices("time_zone", "timezone"), description=description)

if TYPE_CHECKING:  # matching() builds these at run time; to a type checker they are strings
    ClockTime = str
    RuleId = str
    EventPattern = str
    StepId = str
    ItemName = str
else:
    ClockTime = matching(r"^([01]\d|2[0-3]):[0-5]\d$",
                         "'{value}' is not a time of day: write HH:MM, e.g. 21:00", examples=["21:00"])
    RuleId = matching(RULE_ID_PATTERN, "rule id '{value}' must use lowercase letters, digits, '-' and '_', "
                      "starting with a letter or digit")
    EventPattern = matching(EVENT_PATTERN, "'{value}' is not an event type: lowercase words separated by "
                            "dots, e.g. invoice.overdue ('*' matches one word)")
    StepId = matching(r"^[a-z_][a-z0-9_]*$", "step id '{value}' must use lowercase letters, digits and '_'")
    ItemName = matching(r"^[a-z_][a-z0-9_]*$", "'{value}' cannot name the item: use lowercase letters, "
                        "digits and '_'")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


# --- triggers ---------------------------------------------------------------------------------

class EventTrigger(Strict):
    event: EventPattern = Field(description="Event type; a '*' segment matches one segment")


class ScheduleOptions(Strict):
    time_zone: TimeZone | None = time_zone_field("Default: the configured time zone")
    for_each: str | None = Field(None, description="Named query; the rule runs once per row")
    params: dict[str, Any] = Field(default_factory=dict, description="Parameters of the query")
    misfire: Literal["skip", "once"] = Field("once", description="After downtime: skip, or fire once")


class CronTrigger(ScheduleOptions):
    cron: str = Field(description="Five-field cron expression, e.g. '0 9 * * 1-5'")

    @model_validator(mode="after")
    def _valid_cron(self) -> CronTrigger:
        try:
            cron_trigger(self.cron, self.time_zone or "UTC")
        except ValueError as exc:
            raise ValueError(f"invalid cron expression '{self.cron}': {exc}") from exc
        return self


class EveryTrigger(ScheduleOptions):
    every: Duration


def _trigger_kind(value: Any) -> str | None:
    if isinstance(value, str):
        return "event"
    if isinstance(value, dict):
        for kind in ("event", "cron", "every"):
            if kind in value:
                return kind
    if isinstance(value, BaseModel):
        return {EventTrigger: "event", CronTrigger: "cron", EveryTrigger: "every"}.get(type(value))
    return None


def _event_shorthand(value: Any) -> Any:
    return {"event": value} if isinstance(value, str) else value


Trigger = Annotated[
    Annotated[EventTrigger, Tag("event")] | Annotated[CronTrigger, Tag("cron")]
    | Annotated[EveryTrigger, Tag("every")],
    Discriminator(
        _trigger_kind,
        custom_error_type="invalid_trigger",
        custom_error_message="a trigger is an event type, or a mapping with 'event', 'cron' or 'every'",
    ),
    BeforeValidator(_event_shorthand),
]


# --- conditions -------------------------------------------------------------------------------

class AllOf(Strict):
    all: list[Condition] = Field(min_length=1)


class AnyOf(Strict):
    any: list[Condition] = Field(min_length=1)


class NotOf(Strict):
    not_: Condition = Field(alias="not")


def _condition_kind(value: Any) -> str | None:
    if isinstance(value, str):
        return "expression"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        keys = set(value) & {"all", "any", "not"}
        return keys.pop() if len(keys) == 1 else None
    kinds: dict[type[BaseModel], str] = {AllOf: "all", AnyOf: "any", NotOf: "not"}
    return kinds.get(type(value))


CelExpression = Annotated[str, Field(min_length=1, description="A CEL expression")]

if TYPE_CHECKING:  # the run-time alias below carries pydantic metadata mypy cannot resolve
    Condition: TypeAlias = "str | list[Condition] | AllOf | AnyOf | NotOf"
else:
    Condition = TypeAliasType("Condition", Annotated[
        Annotated[CelExpression, Tag("expression")]
        | Annotated[list["Condition"], Tag("list")]
        | Annotated[AllOf, Tag("all")]
        | Annotated[AnyOf, Tag("any")]
        | Annotated[NotOf, Tag("not")],
        Discriminator(
            _condition_kind,
            custom_error_type="invalid_condition",
            custom_error_message=(
                "a condition is a CEL expression, a list of them, or a mapping with one of "
                "'all', 'any', 'not'"
            ),
        ),
    ])


# --- actions ----------------------------------------------------------------------------------

class RetryPolicy(Strict):
    attempts: int = Field(3, ge=1, le=25)
    backoff: Literal["exponential", "fixed"] = "exponential"
    delay: Duration = "2s"


class Action(Strict):
    """One step: ``CONNECTOR.ACTION: {params}`` plus its options.

    ``uses`` and ``params`` are filled from the single action key; the
    validator checks the name against the registry and the params against
    the action's model.
    """

    uses: str = Field(description="CONNECTOR.ACTION, taken from the action's key")
    params: dict[str, Any] = Field(default_factory=dict)
    id: StepId | None = Field(None, description="Name for steps.<id>")
    if_: Condition | None = Field(None, alias="if")
    delay: Duration | None = None
    delay_until: str | None = Field(None, min_length=1, max_length=2000,
                                    description="A time (ISO 8601, usually a template) to wait until; "
                                                "a time past runs at once")
    retry: RetryPolicy | None = None
    fallback: list[Action] = Field(default_factory=list)
    for_each: str | None = Field(None, description="A list: one call per item, e.g. steps.lookup.rows "
                                                   "or data.items (see docs/rules.md, Loops)")
    as_: ItemName | None = Field(None, alias="as", description="Name of the item in params (default: item)")
    group_by: str | None = Field(None, description="Template of a key: one call per group of items, "
                                                   "which params read as group.key and group.items")

    @model_validator(mode="before")
    @classmethod
    def _split_action_key(cls, value: Any) -> Any:
        if not isinstance(value, dict) or "uses" in value:
            return value
        action_keys = [k for k in value if k not in ACTION_OPTION_KEYS]
        if len(action_keys) != 1:
            found = ", ".join(action_keys) if action_keys else "none"
            raise ValueError(f"an action needs exactly one CONNECTOR.ACTION key (found: {found})")
        key = action_keys[0]
        params = value[key]
        if params is None:
            params = {}
        if not isinstance(params, dict):
            raise ValueError(f"the params of '{key}' must be a mapping")
        options = {k: v for k, v in value.items() if k != key}
        return {"uses": key, "params": params, **options}

    @model_validator(mode="after")
    def _one_wait(self) -> Action:
        if self.delay is not None and self.delay_until is not None:
            raise ValueError("an action takes 'delay' or 'delay_until', not both")
        return self


# --- rule options -----------------------------------------------------------------------------

class Dedupe(Strict):
    key: str = Field(description="Template of the key; the same key within the window is skipped")
    window: Duration = "24h"


class Throttle(Strict):
    key: str = Field(description="Template of the key the limit counts per")
    limit: int = Field(ge=1)
    per: Duration


class QuietHours(Strict):
    from_: ClockTime = Field(alias="from")
    to: ClockTime
    time_zone: TimeZone | None = time_zone_field("Used when the recipient has no valid time_zone; "
                                                 "default: the configured one")
    recipient: Literal["customer", "technician"] | None = Field(
        None, description="Whose clock: data.<recipient>; default data.customer, else data.technician")
    max_hold: Duration | None = Field(None, description="Hold no longer than this; a message the window "
                                                        "would hold longer is dropped, with the reason")
    recheck: bool = Field(False, description="When a hold ends, evaluate the rule's 'if' again; "
                                             "skip the run if it no longer holds")


def _dedupe_shorthand(value: Any) -> Any:
    return {"key": value} if isinstance(value, str) else value


class Rule(Strict):
    id: RuleId = Field(description="Unique across all rule files")
    description: str | None = None
    enabled: bool = True
    tags: list[str] = Field(default_factory=list)
    on: list[Trigger] = Field(min_length=1, description="One trigger or a list of them")
    if_: Condition | None = Field(None, alias="if")
    do: list[Action] = Field(min_length=1)
    dedupe: Annotated[Dedupe, BeforeValidator(_dedupe_shorthand)] | None = None
    throttle: Throttle | None = None
    quiet_hours: QuietHours | None = None
    mode: Literal["parallel", "queued", "single"] = "parallel"

    @field_validator("on", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return value if isinstance(value, list) else [value]


if TYPE_CHECKING:
    EventName = str
else:
    EventName = matching(EVENT_TYPE_NAME, "'{value}' is not an event type: lowercase words "
                         "separated by dots, e.g. erp.customer_updated")


class CustomEvent(Strict):
    """An event type another system posts (``POST /v1/events``, ``despacho emit``)."""

    description: str | None = None
    data: dict[str, Any] = Field(default_factory=lambda: {"type": "object"},
                                 description="JSON Schema of the event's data")


class RuleFile(Strict):
    """The top level of a rule file."""

    version: Literal[1] = 1
    events: dict[EventName, CustomEvent] = Field(
        default_factory=dict,
        description="Event types posted by other systems, with the schema of their data")
    rules: list[dict[str, Any]] = Field(description="The rules of this file")
