"""/api/v1.0/users: the employees, known by id or by their reference."""
