"""The energy a compressed form would save per 1M predictions: a projection from measured CPU time, so it is
marked as such wherever it appears (the ledger credit kind `projection`, the report, the card)."""

from __future__ import annotations

from typing import Any

MILLION = 1_000_000


def per_million(original: Any, chosen: Any) -> dict[str, Any]:
    """Projected kWh per 1M predictions for both forms (the ledger's formula on measured CPU seconds)."""
    from greenpipe.ledger import formula_kwh

    before = formula_kwh(original.cpu_s_per_1000 * MILLION / 1000, 0.0, 0.0)
    after = formula_kwh(chosen.cpu_s_per_1000 * MILLION / 1000, 0.0, 0.0)
    return {
        "original_kwh_per_million": before,
        "chosen_kwh_per_million": after,
        "saved_kwh_per_million": max(0.0, before - after),
        "basis": (
            f"{original.cpu_s_per_1000:.5g} vs {chosen.cpu_s_per_1000:.5g} CPU s per 1,000 predictions at batch "
            "1000, measured by compress, x 1,000 x the ledger's W per core and PUE (CPU only)"
        ),
    }
