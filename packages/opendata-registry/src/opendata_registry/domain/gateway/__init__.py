"""The edge gateway: usage batches from the Worker and its deny list."""
