"""Secrets at rest: Fernet encryption with key rotation (newest key first, older ones read)."""

from __future__ import annotations

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

DECRYPTED_CACHE_SIZE = 256  # plaintexts kept per process: one per active store is the use


class SecretBox:
    """Encrypt with the first key; decrypt with any of them."""

    def __init__(self, keys: str):
        parts = [key.strip() for key in keys.split(",") if key.strip()]
        if not parts:
            raise ValueError("TAGWISE_ENCRYPTION_KEY is empty")
        try:
            self._fernet = MultiFernet([Fernet(key.encode()) for key in parts])
        except ValueError as exc:
            raise ValueError("TAGWISE_ENCRYPTION_KEY must be url-safe base64 Fernet keys") from exc
        # A ciphertext always opens to the same plaintext under the same keys, and every
        # webhook opens its store's secret: remember the last few instead of re-running AES
        # and HMAC per delivery. A rotated secret is a new ciphertext, hence a new entry.
        self._decrypt_cached = lru_cache(maxsize=DECRYPTED_CACHE_SIZE)(self._decrypt)

    def encrypt(self, plaintext: str) -> str:
        """Encrypt ``plaintext`` with the newest key."""
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, ciphertext: str) -> str:
        """Decrypt a value written with any configured key."""
        return self._decrypt_cached(ciphertext)

    def _decrypt(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode()).decode()
        except InvalidToken as exc:
            raise ValueError("cannot decrypt: no configured key matches") from exc

    def rotate(self, ciphertext: str) -> str:
        """Re-encrypt a value with the newest key."""
        try:
            return self._fernet.rotate(ciphertext.encode()).decode()
        except InvalidToken as exc:
            raise ValueError("cannot decrypt: no configured key matches") from exc
