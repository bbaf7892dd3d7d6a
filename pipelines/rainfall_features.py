"""The weather features of the reference pipelines, declared once and shared through feature_dedup."""

from __future__ import annotations

FEATURE_SET = "rainfall_weather"
TRANSFORM = "greenpipe.pipelines.rainfall_features:weather_features"
ENTITY_KEY = ["station"]
EVENT_TIME = "day"
ROLLING = ["temperature", "dew_point", "sea_level_pressure", "average_wind_speed"]


def weather_features(frame):  # pandas.DataFrame -> pandas.DataFrame
    """Per station and day: 3-day means, the day's change in pressure and temperature, and the dew-point spread.

    Only the day itself and the days before it are used, so a feature never looks at the future.
    """
    frame = frame.sort_values(["station", "day"])
    out = frame[["station", "day"]].copy()
    grouped = frame.groupby("station", sort=False)
    for column in ROLLING:
        out[f"{column}_mean3"] = grouped[column].transform(lambda s: s.rolling(3, min_periods=1).mean())
    out["pressure_change"] = grouped["sea_level_pressure"].diff().fillna(0.0)
    out["temperature_change"] = grouped["temperature"].diff().fillna(0.0)
    out["dew_point_spread"] = frame["temperature"] - frame["dew_point"]
    return out.reset_index(drop=True)
