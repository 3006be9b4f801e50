"""Recovery campaigns ("database reactivation"): an audience of quiet leads gathered
from ingest, enrolled at most daily_limit a day, each starting a journey on the
campaign's cadence."""
