"""domainteb.eval."""
