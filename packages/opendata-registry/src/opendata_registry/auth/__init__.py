"""Publisher authentication: GitHub Actions OIDC tokens, publish tokens and producer tokens."""
