"""The static leaderboard site: one page per domain with task-type tabs, sortable columns,
filters and model details, built from result files (``domainteb leaderboard``).

The page data are embedded in each page, so the site works from ``file://`` and from any static
server; the templates (``page.html``, ``index.html``, ``leaderboard.js``, ``leaderboard.css``) are
package data.
"""

from __future__ import annotations

from domainteb.eval.leaderboard.build import DomainBoard, board_frame, build_site, domain_boards

__all__ = ["DomainBoard", "board_frame", "build_site", "domain_boards"]
