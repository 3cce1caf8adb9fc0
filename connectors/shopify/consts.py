"""Shopify names and limits (https://shopify.dev/docs/apps/build/webhooks)."""

from connectors.base import StoreAction

HEADER_TOPIC = "X-Shopify-Topic"
HEADER_HMAC = "X-Shopify-Hmac-Sha256"
HEADER_SHOP_DOMAIN = "X-Shopify-Shop-Domain"
HEADER_API_VERSION = "X-Shopify-API-Version"
HEADER_WEBHOOK_ID = "X-Shopify-Webhook-Id"
HEADER_EVENT_ID = "X-Shopify-Event-Id"
HEADER_TRIGGERED_AT = "X-Shopify-Triggered-At"
HEADER_ACCESS_TOKEN = "X-Shopify-Access-Token"

ORDER_TOPICS = frozenset({"orders/create", "orders/updated", "orders/paid", "orders/cancelled"})
CUSTOMER_TOPICS = frozenset({"customers/create", "customers/update"})
TAG_TOPICS = frozenset({"customer.tags_added", "customer.tags_removed"})
PRIVACY_TOPICS = frozenset({"customers/data_request", "customers/redact", "shop/redact"})
# Topics that carry no records but ask for an action (connectors.base.StoreAction).
ACTION_TOPICS = {
    "customers/data_request": StoreAction.EXPORT_CUSTOMER,
    "customers/redact": StoreAction.REDACT_CUSTOMER,
    "shop/redact": StoreAction.REDACT_STORE,
    "app/uninstalled": StoreAction.UNINSTALLED,
}
SUPPORTED_TOPICS = (
    ORDER_TOPICS
    | CUSTOMER_TOPICS
    | TAG_TOPICS
    | PRIVACY_TOPICS
    | {"refunds/create", "customers/delete", "app/uninstalled"}
)

SHOP_DOMAIN_PATTERN = r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$"

# https://shopify.dev/docs/api/admin-graphql/latest/mutations/tagsAdd — limits per customer.
MAX_TAG_LENGTH = 255
MAX_TAGS_PER_CUSTOMER = 250
CUSTOMER_GID_PREFIX = "gid://shopify/Customer/"

# The topics the install subscribes to through webhookSubscriptionCreate: what the normaliser
# and pipeline consume (contracts "Topics used"). The privacy topics cannot be subscribed to
# through the API: they are declared in the app's configuration (shopify.app.toml).
SUBSCRIBED_TOPICS = (
    "orders/create", "orders/updated", "orders/paid", "orders/cancelled", "refunds/create",
    "customers/create", "customers/update", "customers/delete", "app/uninstalled",
)
