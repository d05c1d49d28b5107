"""Idempotency-Key: a POST or PUT retried with the same key gets the first one's answer."""
