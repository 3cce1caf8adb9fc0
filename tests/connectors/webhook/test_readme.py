"""The verification snippet a receiver copies from connectors/webhook/README.md works."""

from __future__ import annotations

import re
from pathlib import Path

from tests.connectors.changes import change
from tests.connectors.webhook.conftest import SECRET, make_writer

README = Path(__file__).resolve().parents[3] / "connectors" / "webhook" / "README.md"


def readme_verify():
    """The ``verify`` function of the README's Python block, as a receiver would paste it."""
    [code] = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    namespace: dict = {}
    exec(compile(code, str(README), "exec"), namespace)
    return namespace["verify"]


def test_the_readme_snippet_accepts_a_real_delivery_and_refuses_tampering(receiver, url, waits):
    make_writer(url, waits).write([change(1)])
    [attempt] = receiver.attempts
    verify = readme_verify()
    assert verify(SECRET, attempt.headers, attempt.body)
    assert not verify("another-secret", attempt.headers, attempt.body)
    assert not verify(SECRET, attempt.headers, attempt.body.replace(b"tw:", b"xx:"))
    sent_at = int(attempt.headers["Tagwise-Timestamp"])
    assert not verify(SECRET, attempt.headers, attempt.body, now=sent_at + 301)
