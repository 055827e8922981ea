"""Django database backends of productops."""
