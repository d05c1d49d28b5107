"""The family's logic, one module per resource; no HTTP here, and nothing is committed here."""
