"""What the /api/v1.0 resources share: the family's errors, query parsing, endpoint and SQL
helpers, validation answers and webhook events."""
