"""Reports read from the published tables, never from the working warehouse."""
