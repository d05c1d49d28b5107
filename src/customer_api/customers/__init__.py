"""Customers and their projects: /api/1/customer."""
