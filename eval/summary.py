"""Per-domain summary tables: models × tasks (main scores) plus averages by task type and overall.

Written as CSV and Markdown to ``<output_dir>/summary/<domain>.{csv,md}`` and printed with rich.
Missing (model, task) pairs stay blank (NaN), never zero, and averages skip them.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd
from rich.table import Table

from domainteb.core.io import atomic_write_text
from domainteb.core.results import TaskResult, read_result


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


def write_summaries(result_files: Iterable[Path], output_dir: Path) -> dict[str, tuple[Table, list[Path]]]:
    frame = results_frame(read_result(p) for p in dict.fromkeys(result_files))
    out: dict[str, tuple[Table, list[Path]]] = {}
    for domain, part in frame.groupby("domain"):
        table = summary_table(part)
        csv_path = output_dir / "summary" / f"{domain}.csv"
        md_path = output_dir / "summary" / f"{domain}.md"
        atomic_write_text(csv_path, table.to_csv())
        atomic_write_text(md_path, table.to_markdown() + "\n")
        out[str(domain)] = (to_rich(str(domain), table), [csv_path, md_path])
    return out
