"""The /api/v1.0 family's routers, one package per resource: HTTP in, service call, HTTP out."""

from fastapi import APIRouter

from customer_api.assignments.customer_employees import router as customer_employees
from customer_api.assignments.customers import router as customers
from customer_api.assignments.routes import router as routes
from customer_api.assignments.users import router as users

ROUTERS: tuple[APIRouter, ...] = (
    customer_employees.router,
    users.router,
    customers.router,
    routes.router,
)
