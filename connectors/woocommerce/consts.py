"""WooCommerce names and limits, each with the vendor source it comes from."""

# Delivery headers sent by WC_Webhook::deliver(); the ping sends none of them.
# https://woocommerce.github.io/woocommerce-rest-api-docs/#webhooks
HEADER_SIGNATURE = "X-WC-Webhook-Signature"
HEADER_TOPIC = "X-WC-Webhook-Topic"
HEADER_SOURCE = "X-WC-Webhook-Source"
HEADER_RESOURCE = "X-WC-Webhook-Resource"
HEADER_EVENT = "X-WC-Webhook-Event"
HEADER_WEBHOOK_ID = "X-WC-Webhook-ID"
# New on every send, so useless for dedupe (see webhooks.dedupe_key).
HEADER_DELIVERY_ID = "X-WC-Webhook-Delivery-ID"

TOPIC_ORDER_CREATED = "order.created"
TOPIC_ORDER_UPDATED = "order.updated"
TOPIC_ORDER_DELETED = "order.deleted"
TOPIC_ORDER_RESTORED = "order.restored"
TOPIC_CUSTOMER_CREATED = "customer.created"
TOPIC_CUSTOMER_UPDATED = "customer.updated"
TOPIC_CUSTOMER_DELETED = "customer.deleted"

ORDER_TOPICS = frozenset({TOPIC_ORDER_CREATED, TOPIC_ORDER_UPDATED, TOPIC_ORDER_RESTORED})
CUSTOMER_TOPICS = frozenset({TOPIC_CUSTOMER_CREATED, TOPIC_CUSTOMER_UPDATED})
DELETION_TOPICS = frozenset({TOPIC_ORDER_DELETED, TOPIC_CUSTOMER_DELETED})
# The subscriptions Tagwise registers on a store, in registration order.
TOPICS_USED: tuple[str, ...] = (
    TOPIC_ORDER_CREATED,
    TOPIC_ORDER_UPDATED,
    TOPIC_ORDER_DELETED,
    TOPIC_ORDER_RESTORED,
    TOPIC_CUSTOMER_CREATED,
    TOPIC_CUSTOMER_UPDATED,
    TOPIC_CUSTOMER_DELETED,
)

# Block checkout saves the cart as an order in status "checkout-draft" (older Blocks
# releases used "draft") and can fire order.created for it before the shopper pays.
DRAFT_ORDER_STATUSES = frozenset({"checkout-draft", "draft"})

# Customer meta Tagwise owns. WooCommerce customers have no tags, so segment keys live in
# one namespaced meta key; the scores sit beside it for merchants' own automations.
DEFAULT_META_KEY = "_tagwise_segments"
META_KEY_R_SCORE = "_tagwise_r"
META_KEY_F_SCORE = "_tagwise_f"
META_KEY_M_SCORE = "_tagwise_m"
META_KEY_RFM_GROUP = "_tagwise_rfm_group"
# Profile property name (TagChange.properties) → the meta key it is written to.
PROPERTY_META_KEYS: dict[str, str] = {
    "r_score": META_KEY_R_SCORE,
    "f_score": META_KEY_F_SCORE,
    "m_score": META_KEY_M_SCORE,
    "rfm_group": META_KEY_RFM_GROUP,
}

# Consent is not a WooCommerce field. Mailchimp for WooCommerce, the most common list
# plugin, keeps it as user meta "mailchimp_woocommerce_is_subscribed" and copies it onto
# orders under that key or with a leading underscore ("1"/"yes"/"true" mean subscribed).
CONSENT_META_KEYS: tuple[str, ...] = (
    "mailchimp_woocommerce_is_subscribed",
    "_mailchimp_woocommerce_is_subscribed",
)

# REST v3 lives under the site URL; per_page is capped at 100 by WP_REST_Controller, and
# WC_REST_Controller::check_batch_limit() refuses more than 100 items per batch (HTTP 413).
API_PATH = "/wp-json/wc/v3"
MAX_PER_PAGE = 100
BATCH_SIZE = 100
HEADER_TOTAL = "X-WP-Total"
HEADER_TOTAL_PAGES = "X-WP-TotalPages"
