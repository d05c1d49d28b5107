"""/api/v1.0/customers: the customers as this family shows them (read only)."""
