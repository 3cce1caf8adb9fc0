"""Per-customer behavioural metrics, RFM and lifecycle: the pure profile core."""
