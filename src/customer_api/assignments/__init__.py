"""Who serves which customer: the /api/v1.0 family (customerEmployees, users, customers, routes)."""
