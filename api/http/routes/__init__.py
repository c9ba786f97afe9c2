"""HTTP route handlers, one controller per resource (each module says what it serves)."""
