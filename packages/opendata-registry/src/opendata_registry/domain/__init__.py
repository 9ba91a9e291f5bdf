"""The registry's domains, each with its controllers (HTTP) and services (logic)."""
