"""domainteb: does a domain-adapted text-embedding model beat the generalists, and by how much?

The import package gathers the repository's top-level folders as subpackages
(``domainteb.eval``, ``domainteb.domains``, ``domainteb.synth``, ``domainteb.adapt``,
``domainteb.conf``) through pyproject's package-dir mapping; ``domainteb.core`` holds
the small shared core (types, registry, I/O) every stage uses.
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
