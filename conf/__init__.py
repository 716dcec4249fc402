"""domainteb.conf: Hydra configs (package data)."""
