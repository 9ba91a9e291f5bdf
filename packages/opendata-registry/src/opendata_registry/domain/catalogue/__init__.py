"""Catalogue: search, dataset pages, facets, the index and the sync from the store."""
