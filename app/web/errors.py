"""One JSON error shape for every endpoint: ``{"error": {"reason": ..., "message": ...}}``."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from app.services.errors import ServiceError


class ApiError(Exception):
    """An error with an HTTP status and a machine-readable reason."""

    def __init__(self, status: int, reason: str, message: str):
        super().__init__(message)
        self.status, self.reason, self.message = status, reason, message


def error_response(status: int, reason: str, message: str,
                   detail: dict[str, Any] | None = None):
    """The JSON body and status of an error (``detail`` only when there is one)."""
    error: dict[str, Any] = {"reason": reason, "message": message}
    if detail is not None:
        error["detail"] = detail
    return jsonify({"error": error}), status


def init_app(app: Flask) -> None:
    """Attach the handlers so no error leaves as HTML or a traceback."""

    @app.errorhandler(ApiError)
    def handle_api_error(exc: ApiError):
        return error_response(exc.status, exc.reason, exc.message)

    @app.errorhandler(ServiceError)
    def handle_service_error(exc: ServiceError):
        return error_response(exc.status, exc.reason, exc.message, exc.detail)

    @app.errorhandler(HTTPException)
    def handle_http_error(exc: HTTPException):
        reason = (exc.name or "error").lower().replace(" ", "_")
        return error_response(exc.code or 500, reason, exc.description or exc.name)
