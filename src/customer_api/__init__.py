"""Customer API: the Coredination customer API and the customerEmployees assignment API."""

__version__ = "0.1.0"
