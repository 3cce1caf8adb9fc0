"""Run a stand-in vendor server (a small WSGI app) on a free loopback port for a test."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from werkzeug.serving import make_server


@contextmanager
def serving(wsgi_app) -> Iterator[str]:
    """Serve ``wsgi_app`` on 127.0.0.1 in a thread; yield its base URL; stop on exit."""
    server = make_server("127.0.0.1", 0, wsgi_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()
        server.server_close()
