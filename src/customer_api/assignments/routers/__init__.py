"""/api/v1.0: HTTP in, service call, HTTP out."""

from fastapi import APIRouter

from customer_api.assignments.routers import customer_employees, customers, routes, users

ROUTERS: tuple[APIRouter, ...] = (
    customer_employees.router,
    users.router,
    customers.router,
    routes.router,
)
