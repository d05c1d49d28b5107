"""/api/v1.0/routes: an employee's ordered visits to customers."""
