"""``tagwise segments list|enable|disable``: the reference, a store's segments, the switch."""

from __future__ import annotations

import pytest

from app.core.segments.catalogue import CATALOGUE
from tests.seeding import rescored_store


def run(app, *args: str):
    return app.test_cli_runner().invoke(args=list(args))


def test_segments_list_without_a_store_prints_every_rule(app):
    result = run(app, "segments", "list")
    assert result.exit_code == 0, result.output
    for entry in CATALOGUE:
        assert f"tw:{entry.key}" in result.output and entry.description in result.output


@pytest.fixture
def store_id(app, client, shop):
    return rescored_store(app, client, shop)


def test_disable_then_list_then_enable_a_built_in(app, store_id):
    listed = run(app, "segments", "list", "--store", str(store_id))
    assert listed.exit_code == 0
    line = next(row for row in listed.output.splitlines() if " tw:new " in row)
    assert line.startswith("on ") and int(line.split()[2]) > 0
    off = run(app, "segments", "disable", "--store", str(store_id), "new")
    assert off.exit_code == 0 and "disabled" in off.output
    line = next(row for row in run(app, "segments", "list", "--store", str(store_id))
                .output.splitlines() if " tw:new " in row)
    assert line.startswith("off ")
    assert run(app, "segments", "enable", "--store", str(store_id), "new").exit_code == 0


@pytest.mark.parametrize("args, message", [
    (("segments", "disable", "--store", "999", "new"), "no store 999"),
    (("segments", "disable", "--store", "{store}", "no-such"), "no segment no-such"),
    (("segments", "list", "--store", "999"), "no store 999"),
])
def test_mistakes_are_one_line_errors(app, store_id, args, message):
    result = run(app, *(a.format(store=store_id) for a in args))
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: {message}"
