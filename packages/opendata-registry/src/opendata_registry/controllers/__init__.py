"""HTTP controllers, one per resource; they call services and never hold a database session."""
