"""Key rotation: re-encrypt every secret at rest with the newest TAGWISE_ENCRYPTION_KEY key."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.storage.crypto import SecretBox
from app.storage.models import Destination, Store

# Every column that holds a SecretBox ciphertext.
ENCRYPTED_COLUMNS = (
    (Store, ("access_token_enc", "webhook_secret_enc", "refresh_token_enc", "alert_url_enc")),
    (Destination, ("credentials_enc",)),
)


class RotationError(ValueError):
    """A stored value that no configured key decrypts; nothing was rewritten."""


def rotate_all(session: Session, box: SecretBox) -> int:
    """Re-encrypt every stored ciphertext with the newest key; return how many.

    All or nothing: the caller's transaction is rolled back if any value does not decrypt.
    """
    rotated = 0
    for model, columns in ENCRYPTED_COLUMNS:
        for row in session.execute(select(model).order_by(model.id)).scalars():
            for column in columns:
                value = getattr(row, column)
                if value is None:
                    continue
                try:
                    setattr(row, column, box.rotate(value))
                except ValueError as exc:
                    raise RotationError(f"{model.__tablename__} {row.id} {column}: {exc}") \
                        from exc
                rotated += 1
    return rotated
