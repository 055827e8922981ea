"""PostgreSQL with client-side deadlines (``base.DatabaseWrapper``)."""
