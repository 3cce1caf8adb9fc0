"""``make demo``: a stand-in Shopify shop with two years of orders, run through Tagwise."""
