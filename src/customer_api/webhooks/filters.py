"""Channels, event types, and the event-type filter: a regular expression checked before it is
kept, and run with a time limit, so that no filter can stall the dispatcher."""

import functools
import logging

import regex

logger = logging.getLogger("customer_api.webhooks")

CHANGES = {
    "customer": ("created", "updated", "deleted"),
    "document": ("created", "updated", "attached", "detached"),
    "customerEmployee": ("created", "updated", "deleted"),
    "user": ("created", "updated", "deleted"),
    "route": ("created", "updated", "deleted"),
}
CHANNELS = tuple(CHANGES)
EVENT_TYPES = tuple(
    f"{channel}.{change}" for channel, changes in CHANGES.items() for change in changes
)
PING = "ping"
MAX_FILTER_LENGTH = 256
TRIAL_SECONDS = 0.05
"""A filter that needs longer than this for one of the trial strings is refused as too costly."""
MATCH_SECONDS = 0.01
"""At delivery, a filter that takes longer than this (it cannot: it passed the trial) is read
as "no match", and logged."""
_TRIALS = (
    *EVENT_TYPES,
    "a" * 64,
    "customer." * 7,
    "customerEmployee.deleted" + "!" * 40,
)


_NESTED_QUANTIFIER = regex.compile(r"\((?:[^()\\]|\\.)*[+*}](?:[^()\\]|\\.)*\)\s*[+*{]")
"""A quantified group holding a quantifier, ``(a+)+``: the shape of catastrophic backtracking.
Refused whatever the engine would make of it (event types are short, but filters are also read
by people, and by other tools)."""
_BIG_COUNT = regex.compile(r"\{\s*\d{3,}")
"""A counted repetition of 100 or more: no event type is that long."""


class FilterError(ValueError):
    """Why a filter cannot be used, for the client."""


def check_filter(pattern: str) -> str:
    """The filter, if it compiles and runs quickly on event types and on hostile strings."""
    if len(pattern) > MAX_FILTER_LENGTH:
        raise FilterError(f"at most {MAX_FILTER_LENGTH} characters")
    if _NESTED_QUANTIFIER.search(pattern) or _BIG_COUNT.search(pattern):
        raise FilterError("too costly to run (nested or very large repetition)")
    try:
        compiled = regex.compile(pattern)
    except (regex.error, OverflowError, RecursionError) as exc:
        raise FilterError(f"not a valid regular expression ({exc})") from None
    for trial in _TRIALS:
        try:
            compiled.search(trial, timeout=TRIAL_SECONDS)
        except TimeoutError:
            raise FilterError("too costly to run (catastrophic backtracking)") from None
    return pattern


@functools.lru_cache(maxsize=1024)
def _compiled(pattern: str) -> "regex.Pattern[str]":
    return regex.compile(pattern)


def wants(channels: str, event_type_filter: str | None, channel: str, event_type: str) -> bool:
    """Whether a subscription (its framed channel list and its filter) wants this event."""
    if f",{channel}," not in channels:
        return False
    if not event_type_filter:
        return True
    try:
        return _compiled(event_type_filter).search(event_type, timeout=MATCH_SECONDS) is not None
    except (TimeoutError, regex.error):
        logger.warning("event type filter %r ran too long; read as no match", event_type_filter)
        return False


def frame_channels(channels: list[str]) -> str:
    """``,customer,document,`` in the order of ``CHANNELS``, each once."""
    return "," + ",".join(c for c in CHANNELS if c in channels) + ","


def unframe_channels(channels: str) -> list[str]:
    return [channel for channel in channels.split(",") if channel]
