"""The command line ``opendata-registry``: serve, sync, keys, tokens, gateway."""
