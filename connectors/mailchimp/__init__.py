"""Mailchimp: segments as member tags (static segments), written in bulk."""

from connectors.mailchimp.client import MailchimpClient, subscriber_hash
from connectors.mailchimp.writer import MailchimpWriter, mailchimp_tag_name

__all__ = ["MailchimpClient", "MailchimpWriter", "mailchimp_tag_name", "subscriber_hash"]
