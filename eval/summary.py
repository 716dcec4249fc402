"""Per-domain summary tables: models × tasks (main scores) plus averages by task type and overall.

Written as CSV and Markdown to ``<output_dir>/summary/<domain>.{csv,md}`` and printed with rich.
Missing (model, task) pairs stay blank (NaN), never zero, and averages skip them.

A summary is rebuilt from EVERY result file under the output folder (``<output_dir>/<model>/
<task>.json``), not only the run that writes it, under a file lock: each run writes its result
files before it takes the lock, so whichever of two concurrent runs (or ``-m`` jobs) rebuilds
last sees both, and no model goes missing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

import pandas as pd
from rich.table import Table

from domainteb.core.io import atomic_write_text, ensure_dir
from domainteb.core.paths import join_under
from domainteb.core.results import TaskResult, read_result

log = logging.getLogger(__name__)
LOCK_NAME = ".summary.lock"


def results_frame(results: Iterable[TaskResult]) -> pd.DataFrame:
    rows = []
    for res in results:
        info = res.domainteb.get("model", {})
        rows.append({
            "domain": res.domainteb.get("domain", "unknown"),
            "model": info.get("name", "?"),
            "task": res.task_name,
            "task_type": res.domainteb.get("task_type", "?"),
            "main_score": res.main_score(),
        })
    return pd.DataFrame(rows, columns=["domain", "model", "task", "task_type", "main_score"])


def summary_table(frame: pd.DataFrame) -> pd.DataFrame:
    """One domain's frame → models × (tasks..., avg <type>..., average), scores in percent."""
    scores = frame.pivot_table(index="model", columns="task", values="main_score", aggfunc="mean") * 100
    types = frame.drop_duplicates("task").set_index("task")["task_type"]
    ordered = sorted(scores.columns, key=lambda t: (types[t], t))
    table = scores[ordered]
    by_type = {f"avg {tt}": table[[t for t in ordered if types[t] == tt]].mean(axis=1, skipna=True)
               for tt in sorted(set(types[ordered]))}
    # the overall average is the mean of task-type averages (as MTEB leaderboards do), over types present
    type_frame = pd.DataFrame(by_type)
    out = pd.concat([table, type_frame], axis=1)
    out["average"] = type_frame.mean(axis=1, skipna=True)
    return out.sort_values("average", ascending=False).round(2)


def to_rich(domain: str, table: pd.DataFrame) -> Table:
    """Printed transposed (tasks as rows, models as columns) so it fits a terminal."""
    rich_table = Table(title=f"domainteb — {domain} (main scores ×100)", show_lines=False)
    rich_table.add_column("task", style="bold", overflow="fold")
    for model in table.index:
        rich_table.add_column(str(model), justify="right", overflow="fold")
    for col in table.columns:
        style = "bold cyan" if col == "average" else ("cyan" if str(col).startswith("avg ") else None)
        rich_table.add_row(str(col), *["" if pd.isna(v) else f"{v:.2f}" for v in table[col]], style=style)
    return rich_table


def all_results(output_dir: Path) -> list[TaskResult]:
    """Every readable result file ``<output_dir>/<model>/<task>.json`` (others, e.g. profiles, are skipped)."""
    found = []
    for path in sorted(output_dir.glob("*/*.json")):
        if path.parent.name in {"summary", "profiles", "report"} or path.name.startswith("."):
            continue
        try:
            found.append(read_result(path))
        except Exception as exc:  # not a result file, or one that is unsafe to use
            log.info("summary skips %s (%s)", path, exc)
    return found


def write_summaries(result_files: Iterable[Path], output_dir: Path) -> dict[str, tuple[Table, list[Path]]]:
    """Rebuild the summary of each domain the given result files belong to, from all results under ``output_dir``."""
    from filelock import FileLock

    output_dir = Path(output_dir)
    domains = {str(r.domainteb.get("domain", "unknown")) for r in (read_result(p) for p in dict.fromkeys(result_files))}
    if not domains:
        return {}
    folder = ensure_dir(output_dir / "summary", root=output_dir)
    with FileLock(str(folder / LOCK_NAME)):
        frame = results_frame(all_results(output_dir))
        return _write_domains(frame[frame["domain"].isin(domains)], output_dir)


def _write_domains(frame: pd.DataFrame, output_dir: Path) -> dict[str, tuple[Table, list[Path]]]:
    out: dict[str, tuple[Table, list[Path]]] = {}
    for domain, part in frame.groupby("domain"):
        table = summary_table(part)
        # the domain comes from result files: checked, and each write proven to stay under output_dir
        csv_path = join_under(output_dir, "summary", f"{domain}.csv", field="domain")
        md_path = join_under(output_dir, "summary", f"{domain}.md", field="domain")
        atomic_write_text(csv_path, table.to_csv(), root=output_dir)
        atomic_write_text(md_path, table.to_markdown() + "\n", root=output_dir)
        out[str(domain)] = (to_rich(str(domain), table), [csv_path, md_path])
    return out
