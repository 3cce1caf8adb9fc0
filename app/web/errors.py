"""One JSON error shape for every endpoint: ``{"error": {"reason": ..., "message": ...}}``.

Browsers get the same errors as the dashboard's error page instead: any path outside the API
and the webhooks, unless the client asks for JSON. Neither ever carries a traceback: a 500 says
only that something failed on the server.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, InternalServerError

from app.services.errors import ServiceError

JSON_PATHS = ("/api/", "/webhooks/")
SERVER_ERROR = "Something failed on our side. It has been logged; try again in a minute."


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


def wants_page() -> bool:
    """Whether this request came from a browser page rather than an API or webhook client."""
    if request.path.startswith(JSON_PATHS):
        return False
    accept = request.accept_mimetypes
    return accept.accept_html and accept.quality("text/html") >= accept.quality(
        "application/json")


def error_page(status: int, message: str):
    """The dashboard's styled error page (no store context, no details beyond ``message``)."""
    return render_template("dashboard/error.html", status=status, message=message), status


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
        if wants_page():
            status = exc.code or 500
            return error_page(status, SERVER_ERROR if isinstance(exc, InternalServerError)
                              else exc.description or exc.name)
        reason = (exc.name or "error").lower().replace(" ", "_")
        return error_response(exc.code or 500, reason, exc.description or exc.name)
