"""domainteb.domains."""
