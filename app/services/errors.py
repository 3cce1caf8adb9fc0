"""Refusals from service functions, free of HTTP: the API, dashboard and CLI decide the form."""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """A refusal from a service function, free of HTTP: the API and dashboard decide the form."""

    status = 400

    def __init__(self, reason: str, message: str, detail: dict[str, Any] | None = None):
        super().__init__(message)
        self.reason, self.message, self.detail = reason, message, detail


class NotFound(ServiceError):
    """The thing does not exist (or the caller may not see it: the same answer)."""

    status = 404


class Conflict(ServiceError):
    """The change collides with what exists (a duplicate key, an email in use)."""

    status = 409


class Invalid(ServiceError):
    """Well-formed input that cannot be accepted (a rule that does not compile)."""

    status = 422
