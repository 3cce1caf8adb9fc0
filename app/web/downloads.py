"""File downloads the API and the dashboard share."""

from __future__ import annotations

from collections.abc import Iterator

from flask import Response, stream_with_context


def csv_download(lines: Iterator[str], filename: str) -> Response:
    """A streamed ``text/csv`` attachment (rows are produced while the response is sent)."""
    return Response(stream_with_context(lines), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
