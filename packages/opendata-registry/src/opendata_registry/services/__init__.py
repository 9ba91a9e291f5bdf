"""The registry's services: the logic behind the controllers, each given its own session."""
