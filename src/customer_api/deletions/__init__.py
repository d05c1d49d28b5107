"""Tombstones: what was deleted and when, so that a sync can learn of deletions."""
