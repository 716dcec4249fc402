"""domainteb.adapt."""
