"""Secrets at rest: Fernet encryption with key rotation (newest key first, older ones read)."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


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

    def encrypt(self, plaintext: str) -> str:
        """Encrypt ``plaintext`` with the newest key."""
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, ciphertext: str) -> str:
        """Decrypt a value written with any configured key."""
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
