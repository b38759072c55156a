"""Encryption at rest for CRM tokens, with keys of their own (never SECRET_KEY)."""

from __future__ import annotations

import json
import os
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


@lru_cache(maxsize=1)
def _fernet() -> MultiFernet:
    keys = list(settings.TOKEN_ENCRYPTION_KEYS)
    if not keys:
        keys = [_local_key()]
    try:
        return MultiFernet([Fernet(key.encode() if isinstance(key, str) else key) for key in keys])
    except (ValueError, TypeError) as bad:
        raise ImproperlyConfigured(
            "TOKEN_ENCRYPTION_KEYS must be comma-separated Fernet keys "
            "(python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')."
        ) from bad


def _local_key() -> str:
    """A key made once for this checkout, so the demo runs without configuration."""
    path = settings.TOKEN_KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(Fernet.generate_key().decode())
    return path.read_text().strip()


def reset_key_cache() -> None:
    _fernet.cache_clear()


def encrypt_json(value: dict[str, Any]) -> str:
    return _fernet().encrypt(json.dumps(value).encode()).decode()


def decrypt_json(token: str) -> dict[str, Any]:
    if not token:
        return {}
    try:
        return json.loads(_fernet().decrypt(token.encode()))
    except InvalidToken as bad:
        raise ImproperlyConfigured(
            "Stored CRM tokens cannot be decrypted with TOKEN_ENCRYPTION_KEYS: keep the old key in the list "
            "(new key first) when rotating."
        ) from bad


def rotate(token: str) -> str:
    """Re-encrypt with the first key (after a key was prepended)."""
    return _fernet().rotate(token.encode()).decode()
