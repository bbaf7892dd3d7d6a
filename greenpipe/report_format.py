"""One number format for the HTML report: three significant figures, no exponents, a unit on every quantity.

Small energies and masses move to a smaller unit (0.0000382 Wh reads as 38.2 µWh) instead of turning into
`3.82e-05` or `0.0000`; zero is written `0` with its unit; counts agree with their noun ("1 run", "2 runs").
"""

from __future__ import annotations

import html
import math

# unit -> the ladder of smaller units it steps down to, each (factor, name)
_LADDERS: dict[str, list[tuple[float, str]]] = {
    "Wh": [(1e3, "kWh"), (1.0, "Wh"), (1e-3, "mWh"), (1e-6, "µWh"), (1e-9, "nWh")],
    "gCO2e": [(1e3, "kgCO2e"), (1.0, "gCO2e"), (1e-3, "mgCO2e"), (1e-6, "µgCO2e"), (1e-9, "ngCO2e")],
    "s": [(1.0, "s"), (1e-3, "ms"), (1e-6, "µs")],
    "MB": [(1e3, "GB"), (1.0, "MB"), (1e-3, "kB")],
}

DIGEST_SHOWN = 12


def number(value: float | int | None) -> str:
    """A plain number: three significant figures, thousands separators, never an exponent."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    if math.isnan(value):
        return "n/a"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    if value == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(value)))
    if magnitude >= 3:
        return f"{value:,.0f}"
    decimals = max(0, 2 - magnitude)
    text = f"{value:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def quantity(value: float | int | None, unit: str) -> str:
    """A number with its unit, scaled down the unit's ladder so it shows as 1-999 where the ladder allows."""
    if value is None:
        return "–"
    ladder = _LADDERS.get(unit)
    if ladder is None or value == 0 or not math.isfinite(value):
        return f"{number(value)} {unit}"
    for factor, name in ladder:
        if abs(value) >= factor * 0.9995:
            return f"{number(value / factor)} {name}"
    factor, name = ladder[-1]
    return f"{number(value / factor)} {name}"


def count(n: int, noun: str, plural: str | None = None) -> str:
    """`1 run`, `2 runs`."""
    return f"{n:,} {noun if n == 1 else (plural or noun + 's')}"


def digest(value: str | None) -> str:
    """A digest as HTML: the first characters shown, the full value on hover and kept for copy (title)."""
    if not value:
        return "–"
    full = html.escape(value)
    algo, _, hexpart = value.partition(":")
    shown = f"{algo}:{hexpart[:DIGEST_SHOWN]}" if hexpart else value[:DIGEST_SHOWN]
    return f"<code class='digest' title='{full}'>{html.escape(shown)}…</code>"
