"""/api/v1.0/customerEmployees: which employee (user) serves which customer."""
