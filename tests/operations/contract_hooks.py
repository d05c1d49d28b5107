"""Schemathesis hooks for the contract run against a live server (tests/operations/live_contract.py
loads them through SCHEMATHESIS_HOOKS; importing this module registers them globally).

A generated request is sent as a careful client sends it: a well-formed Idempotency-Key is new
for every request (generated keys repeat, and a reused key is refused by design), and no
If-Match / If-None-Match is sent (a made-up tag meets 412 or 304 by the state it finds; the
conditional requests have tests of their own). Everything else is checked with all checks.
"""

import json
import os
import re
import uuid

import schemathesis

from tests.operations.business_rules import broken_rule

ASSIGNMENT_FAMILY = "/api/v1.0/"
TALLY = "CONTRACT_TALLY"  # where the hooks write what they saw: one JSON object a line
_WELL_FORMED_KEY = re.compile(r"^[!-~]{1,255}$")
_STATE_DEPENDENT = ("if-match", "if-none-match")


def _tally(**event) -> None:
    if path := os.environ.get(TALLY):
        with open(path, "a") as out:
            out.write(json.dumps(event) + "\n")


@schemathesis.hook
def before_call(context, case, **kwargs) -> None:
    headers = case.headers or {}
    for name in [name for name in headers if name.lower() in _STATE_DEPENDENT]:
        del headers[name]
    for name, value in list(headers.items()):
        if name.lower() == "idempotency-key" and _WELL_FORMED_KEY.match(str(value)):
            headers[name] = uuid.uuid4().hex


@schemathesis.hook
def after_call(context, case, response) -> None:
    _tally(event="call", operation=case.operation.label)


@schemathesis.hook
def filter_failure(context, failure, case, response) -> bool:
    """Keep every failure but a well-formed /api/v1.0 request refused by a business rule."""
    rule = broken_rule(response)
    if failure.code == "ST202" and rule and case.path.startswith(ASSIGNMENT_FAMILY):
        _tally(event="business_rule", rule=rule, operation=case.operation.label)
        return False
    return True
