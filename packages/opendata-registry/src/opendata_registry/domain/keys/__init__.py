"""Keys and limits: API keys, rate limits and the access middleware that applies them."""
