"""Downloads: shard plans, signed URLs, the direct download path and signed local files."""
