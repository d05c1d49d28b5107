"""Groups (tenants) and their API keys."""
