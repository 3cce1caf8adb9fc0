"""The security review's findings (issue 18), each reproduced as the attacker's HTTP request.

One module per finding group; read them top to bottom:

- ``test_webhooks``: signed deliveries replayed against another shop or topic (1), malformed
  signatures (10), WooCommerce store-id probing (12).
- ``test_sessions``: id reuse (2), revocation (9), the deployment-token cookie (11), the
  embedded cookie (12).
- ``test_sign_in``: open redirect (6), login throttling (7), signed launch links (10, 11).
- ``test_privacy``: GDPR matching (3) and what a redaction leaves behind (4).
- ``test_outbound``: SSRF through redirects and merchant-set URLs (5).
- ``test_operations``: broker down (8), secrets on the command line and weak tokens (11, 12).
"""
