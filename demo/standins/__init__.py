"""Local stand-ins for vendor APIs that the demo serves at runtime (the tests use them too)."""
