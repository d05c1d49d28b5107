"""API keys: random, prefixed so they are recognisable in logs and secret scanners, stored hashed.

Keys carry 256 bits of randomness, so a fast keyed-free SHA-256 is the right hash: a slow
password hash would only slow every request without making a random key harder to guess.
"""

import hashlib
import secrets

KEY_PREFIX = "cak_"


def generate_api_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def display_prefix(key: str) -> str:
    """The part of a key that may be shown again later, to tell keys apart."""
    return key[: len(KEY_PREFIX) + 6]
