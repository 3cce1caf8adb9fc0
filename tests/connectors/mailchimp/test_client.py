"""MailchimpClient basics and tag-name mapping, no server needed."""

from __future__ import annotations

import pytest
import requests

from connectors.mailchimp import MailchimpClient, mailchimp_tag_name, subscriber_hash
from connectors.mailchimp.consts import TAG_NAME_MAX_CHARS


def test_subscriber_hash_matches_mailchimps_documented_example():
    # Mailchimp's docs: Urist.McVankab@freddiesjokes.com -> 62eeb292278cc15f5817cb78f7790b08
    assert subscriber_hash(" Urist.McVankab@freddiesjokes.com ") == (
        "62eeb292278cc15f5817cb78f7790b08")


def test_base_url_comes_from_the_keys_data_centre_unless_given():
    assert MailchimpClient("abc123-us6").base_url == "https://us6.api.mailchimp.com/3.0"
    assert MailchimpClient("abc123-us6", base_url="http://127.0.0.1:9/3.0/").base_url == (
        "http://127.0.0.1:9/3.0")
    with pytest.raises(ValueError):
        MailchimpClient("no-data-centre-")


def test_connection_pool_to_mailchimp_is_capped_at_ten_and_blocks():
    session = requests.Session()
    client = MailchimpClient("abc123-us6", session=session)

    adapter = session.get_adapter(f"{client.base_url}/lists/x")

    assert adapter._pool_maxsize == 10
    assert adapter._pool_block is True
    assert session.get_adapter("https://example.com/") is not adapter


def test_safe_keys_are_used_as_tag_names_unchanged():
    assert mailchimp_tag_name("champions") == "champions"
    assert mailchimp_tag_name("category-home-garden") == "category-home-garden"


@pytest.mark.parametrize("key", ["food&drink", "a,b", "x" * 80, "category-" + "long-" * 12])
def test_unsafe_keys_map_to_safe_stable_distinct_names(key):
    name = mailchimp_tag_name(key)

    assert "&" not in name and "," not in name
    assert len(name) <= TAG_NAME_MAX_CHARS
    assert name == mailchimp_tag_name(key)
    assert name != mailchimp_tag_name(key + "!")


def test_cleaned_unsafe_key_cannot_collide_with_a_safe_one():
    assert mailchimp_tag_name("food&drink") != mailchimp_tag_name("food-drink")
