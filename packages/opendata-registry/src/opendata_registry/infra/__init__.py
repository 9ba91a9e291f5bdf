"""Infrastructure below every domain: settings, store, errors, bodies, headers, request log."""
