"""The `register_compressed` step: register compress's chosen form as the next version of the registered model.

A step of its own, not part of compress: like register, its answer depends on the registry's state (which
version numbers are taken), so it is never cached, while compress's costly measuring stays cached. Its optional
`after` input (register's card, in the reference pipeline) orders it after the original's registration on every
runtime, so the original is always the version before it.
"""

# no `from __future__ import annotations` here: the engine reads the NamedTuple's raw __annotations__
import json
from pathlib import Path
from typing import NamedTuple

from greenpipe import CachePolicy, Model, Output, Report, step
from greenpipe.artifacts import write_text_atomic


class RegisterCompressedResult(NamedTuple):
    version: int  # 0 when nothing was registered (the original was the cheapest form)
    chosen: str


@step(
    description="Register compress's chosen form as the model's next version, its card carrying the trade-off table",
    cache=CachePolicy(enabled=False),
    varies="the card carries the registry's state and compress's measured latencies",
)
def register_compressed(
    compressed: Model,
    report: Report,
    card: Output[Report],
    model_name: str,
    after: Report | None = None,
) -> RegisterCompressedResult:
    """Add `compressed` to the registry under `model_name` (alias `compressed`, never promoted) and write its card.

    Args:
        compressed: compress's `compressed` output.
        report: compress's `report` output (its tradeoffs.json names the rows, the choice and the evaluation data).
        card: written: the new version's model card (model_card.json, card.md, card.html) with the trade-off table.
        model_name: the registered model the original belongs to.
        after: any artifact that must exist first (register's card), so versions follow the pipeline's order.
    """
    from greenpipe.components.compress.errors import CompressError
    from greenpipe.components.compress.registration import register_compressed as add
    from greenpipe.components.compress.tradeoff import Row, markdown
    from greenpipe.context import current

    if not model_name.strip():
        raise CompressError("model_name='' is empty: name the registered model, e.g. model_name='rainfall'")
    table_path = Path(report.path) / "tradeoffs.json"
    if not table_path.is_file():
        raise CompressError(f"report input {report.path} has no tradeoffs.json: pass compress's `report` output")
    table = json.loads(table_path.read_text(encoding="utf-8"))
    rows = [Row(**r) for r in table["rows"]]
    chosen = next(r for r in rows if r.name == table["chosen"])
    text = markdown(rows, chosen.name, table["metric"], table["max_metric_drop"])
    card_dir = Path(card.path)
    if chosen.name == "original":
        card_dir.mkdir(parents=True)
        write_text_atomic(
            card_dir / "card.md",
            f"# Not registered\n\nThe original is the cheapest form within the bar: no new version.\n\n{text}",
        )
        return RegisterCompressedResult(0, chosen.name)
    version = add(
        model_name=model_name,
        compressed_dir=Path(compressed.path),
        compressed_digest=compressed.digest or "",
        original_digest=table["original_digest"],
        eval_digest=table["eval_digest"],
        metric=table["metric"],
        higher_is_better=bool(table["higher_is_better"]),
        original_row=rows[0],
        chosen_row=chosen,
        table_md=text,
        spec=table["spec"],
        card_dir=card_dir,
    )
    current().log(f"registered {chosen.name} as {model_name} v{version} (alias compressed)")
    return RegisterCompressedResult(version, chosen.name)
