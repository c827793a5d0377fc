"""Storage of the service's own records (conversations served), kept apart from the routes."""
