"""Plumbing shared by every domain package."""
