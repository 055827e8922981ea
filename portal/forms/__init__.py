"""Django forms of the portal, one module per area; they validate input, services decide."""
