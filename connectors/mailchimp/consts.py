"""Mailchimp Marketing API facts: host pattern, limits and the error titles we act on.

Source: mailchimp.com/developer/marketing (API fundamentals, Lists/Audiences, Tags, Batch
operations) as summarised in ../shared/contracts/README.md, "Mailchimp".
"""

# The data centre is the API key's suffix: "...-us6" -> https://us6.api.mailchimp.com/3.0
BASE_URL_TEMPLATE = "https://{dc}.api.mailchimp.com/3.0"
# HTTP Basic with any user name; the key is the password.
BASIC_AUTH_USER = "tagwise"

# Mailchimp allows 10 simultaneous connections per user; the pool never opens more.
MAX_CONNECTIONS = 10
# Mailchimp times requests out at 120 s; ours are shorter so a stuck call fails fast.
REQUEST_TIMEOUT_SECONDS = 30.0

# Batch subscribe takes at most 500 members; static segment edits at most 500 per list.
BATCH_SUBSCRIBE_MAX_MEMBERS = 500
SEGMENT_MEMBERS_MAX = 500
SEGMENTS_PAGE_SIZE = 1000

# Tags are static segments; names with "&" or "," get mangled and long names are unsafe.
TAG_NAME_MAX_CHARS = 50
TAG_NAME_UNSAFE_CHARACTERS = "&,"

# Status given to contacts we have to create so they can carry tags. "transactional" makes a
# contact that receives no marketing and gets no opt-in email ("pending" would send one,
# "subscribed" would claim consent we do not have). Existing members are never changed.
STATUS_IF_NEW = "transactional"

TAG_ACTIVE = "active"
TAG_INACTIVE = "inactive"

# Batch subscribe reports members that already exist (update_existing false) as errors.
ERROR_CONTACT_EXISTS = "ERROR_CONTACT_EXISTS"
# 400 titles that mean "skip this contact for good" (problem+json ``title``).
PERMANENT_CONTACT_TITLES = {
    "Member In Compliance State": "member_in_compliance_state",
    "Forgotten Email Not Subscribed": "forgotten_email_not_subscribed",
}
