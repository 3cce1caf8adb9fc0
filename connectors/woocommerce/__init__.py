"""WooCommerce: signed webhooks in (REST v3 objects), customer meta out (REST v3 batch).

Public surface: :mod:`.webhooks` (signature, ping, dedupe, drafts), :mod:`.normalise`
(payload → canonical record), :mod:`.client` (:class:`WooCommerceClient`) and :mod:`.writer`
(:class:`WooCommerceMetaWriter`, :func:`is_own_echo`).
"""
