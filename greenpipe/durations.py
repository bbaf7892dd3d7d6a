"""ISO-8601 durations (`P30D`, `PT1H30M`) and the short CLI form (`30d`, `12h`), parsed to seconds."""

import re

from greenpipe.errors import DurationError

_ISO = re.compile(
    r"^P(?!$)(?:(?P<weeks>\d+(?:\.\d+)?)W)?(?:(?P<days>\d+(?:\.\d+)?)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+(?:\.\d+)?)H)?(?:(?P<minutes>\d+(?:\.\d+)?)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)
_SHORT = re.compile(r"^(?P<n>\d+(?:\.\d+)?)(?P<unit>[smhdw])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str, field: str = "duration") -> float:
    """Seconds in an ISO-8601 duration (weeks, days, hours, minutes, seconds) or a short form like `30d`.

    Years and months are refused: their length in seconds is ambiguous.
    """
    value = (text or "").strip()
    short = _SHORT.match(value.lower())
    if short:
        return float(short["n"]) * _UNIT_S[short["unit"]]
    match = _ISO.match(value.upper())
    if not match:
        raise DurationError(
            f"{field}={text!r} is not a duration: use ISO-8601 like 'P30D', 'PT12H', 'P1DT6H' "
            "or a short form like '30d', '12h', '90m' (years and months are not accepted)"
        )
    parts = {k: float(v) for k, v in match.groupdict().items() if v}
    return (
        parts.get("weeks", 0) * 604800
        + parts.get("days", 0) * 86400
        + parts.get("hours", 0) * 3600
        + parts.get("minutes", 0) * 60
        + parts.get("seconds", 0)
    )
