"""The tag reference: generated from the catalogue, complete, and the README's copy current."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.core.predict.model import LIKELY_ALIVE
from app.core.profiles.lifecycle import ACTIVE_FACTOR, LAPSING_FACTOR
from app.core.segments.catalogue import CATALOGUE, DISCOUNT_SEEKER_SHARE, FAMILIES
from app.core.segments.reference import reference_markdown, with_reference

README = Path(__file__).resolve().parents[3] / "README.md"


def test_the_readme_carries_the_current_reference():
    text = README.read_text()
    assert with_reference(text) == text, (
        "README.md's tag reference is stale: run `python -m app.core.segments.reference`")


def test_every_built_in_segment_is_listed_once_with_a_rule_that_is_not_its_name():
    reference = reference_markdown()
    for entry in CATALOGUE:
        assert reference.count(f"| `tw:{entry.key}` |") == 1
        assert entry.family in FAMILIES
        words = entry.description.lower()
        assert entry.key.replace("-", " ") not in words.replace("-", " ")  # not circular


def test_the_rules_carry_the_thresholds_the_code_uses():
    reference = reference_markdown()
    assert f"{LIKELY_ALIVE:.2f}" in reference
    assert f"{ACTIVE_FACTOR:g} × their cadence" in reference
    assert f"{LAPSING_FACTOR:g} × the cadence" in reference
    assert f"{DISCOUNT_SEEKER_SHARE:.0%}" in reference


def test_a_readme_without_markers_is_refused():
    with pytest.raises(ValueError, match="markers"):
        with_reference("# no markers here\n")
