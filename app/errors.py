"""One JSON error shape for every endpoint: ``{"error": {"reason": ..., "message": ...}}``."""

from __future__ import annotations

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException


class ApiError(Exception):
    """An error with an HTTP status and a machine-readable reason."""

    def __init__(self, status: int, reason: str, message: str):
        super().__init__(message)
        self.status, self.reason, self.message = status, reason, message


def error_response(status: int, reason: str, message: str):
    """The JSON body and status of an error."""
    return jsonify({"error": {"reason": reason, "message": message}}), status


def init_app(app: Flask) -> None:
    """Attach the handlers so no error leaves as HTML or a traceback."""

    @app.errorhandler(ApiError)
    def handle_api_error(exc: ApiError):
        return error_response(exc.status, exc.reason, exc.message)

    @app.errorhandler(HTTPException)
    def handle_http_error(exc: HTTPException):
        reason = (exc.name or "error").lower().replace(" ", "_")
        return error_response(exc.code or 500, reason, exc.description or exc.name)
