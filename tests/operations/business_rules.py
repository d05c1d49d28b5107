"""The /api/v1.0 family's business rules, which both contract runs accept.

That family answers a request that breaks a business rule (a reference already used, a customer
already assigned, a route's rules) with 400 and the rule's code, as its own documentation does;
a well-formed request can meet one of them. Any other 400 to a well-formed request is a failure.
"""

BUSINESS_RULES = frozenset(
    {
        "not_unique",
        "already_assigned",
        "save_failed",
        "delete_failed",
        "save_not_authorized",
        "update_not_authorized",
        "delete_not_authorized",
    }
)


def broken_rule(response) -> str | None:
    """The business rule a 400 answer names, if it names one."""
    if response.status_code != 400:
        return None
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return None
    return error if error in BUSINESS_RULES else None
