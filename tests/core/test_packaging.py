"""The install layout: every source folder is a listed subpackage of `domainteb`."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_package_folder_is_listed_in_pyproject() -> None:
    tool = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    mapping: dict[str, str] = tool["package-dir"]
    listed = set(tool["packages"])
    found = set()
    for pkg, folder in mapping.items():
        base = ROOT / folder
        for init in base.rglob("__init__.py"):
            rel = init.parent.relative_to(base)
            if any(part.startswith((".", "__")) for part in rel.parts):
                continue
            sub = ".".join((pkg, *rel.parts)) if rel.parts else pkg
            if sub.split(".")[1:2] and f"{sub.split('.')[0]}.{sub.split('.')[1]}" in mapping and pkg == "domainteb" and rel.parts:
                continue  # a mapped subpackage is counted under its own folder
            found.add(sub)
    assert found <= listed, f"add to pyproject [tool.setuptools] packages: {sorted(found - listed)}"


def test_no_generic_top_level_names() -> None:
    tool = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert all(p == "domainteb" or p.startswith("domainteb.") for p in tool["packages"])
