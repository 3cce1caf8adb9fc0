"""A real server, a seeded store and Debian's Chromium driven by Playwright (no browser download).

Without /usr/bin/chromium the browser tests fail under CI (``CI`` set) and are skipped with the
reason elsewhere, so a developer without Chromium can still run the rest of the suite.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.scoring.test_rescore_and_rules import small_store
from tests.seeding import add_store
from tests.standins.server import serving

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).parent / "screenshots"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def _require_chromium() -> None:
    if Path(CHROMIUM).exists():
        return
    message = f"{CHROMIUM} is missing: apt-get install -y chromium"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def browser():
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM,
                                              args=["--headless", "--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def seeded(app, client, shop):
    """A Shopify store with nine customers through the real webhook pipeline, a Klaviyo
    destination in dry run, rescored two weeks ago, a week ago and now (the overview's trend)."""
    store_id = add_store(app, shop)
    small_store(client, app)
    runner = app.test_cli_runner()
    added = runner.invoke(args=["destinations", "add", "klaviyo", "--store", str(store_id),
                                "--api-key", "pk_browser_test", "--api-base-url",
                                "http://127.0.0.1:9"])
    assert added.exit_code == 0, added.output
    today = datetime.now(UTC).date()
    for as_of in (today - timedelta(days=14), today - timedelta(days=7), None):
        extra = ["--as-of", as_of.isoformat()] if as_of else []
        result = runner.invoke(args=["rescore", "--store", str(store_id), *extra])
        assert result.exit_code == 0, result.output
    return store_id


@pytest.fixture
def live_url(app, seeded):
    """The app under a real HTTP server on a loopback port."""
    with serving(app) as url:
        yield url


def screenshot(page, name: str) -> None:
    """Save the whole page for review under tests/web/browser/screenshots/<name>.png."""
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
