"""`parse_config`: every field's check run on its own, then spec.json's schema, and all errors in one config_error.

The order is the spec's; the schema check only runs when the field checks found nothing (their words
are better), and a config_error also carries the unknown-key warnings.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Callable, List, Mapping, Optional
from zoneinfo import ZoneInfo

import jsonschema
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from ..cdk.errors import config_error as traced_config_error
from ..cdk.errors import traced
from . import fields
from .errors import config_error
from .files import SPEC, unknown_keys
from .model import (
    DEFAULT_ARRIVAL_OVERLAP_MINUTES,
    DEFAULT_DATE_WINDOW_DAYS,
    DEFAULT_LOOKBACK_DAYS,
    DEFAULT_OVERLAP_MINUTES,
    DEFAULT_SWEEPS,
    DEFAULT_TARGET_EVENTS,
    DEFAULT_TIMEOUT_SECONDS,
    REGION_HOSTS,
    MixpanelConfig,
)
from .xdm_fields import parse_xdm

SECRET_FIELDS = ("secret", "api_secret", "access_token")


def parse_config(raw: Mapping[str, Any], now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.timezone.utc)) -> MixpanelConfig:
    """Check a raw config and return it typed; raise one config_error naming every wrong field otherwise.

    The specific checks run first, for their actionable messages, each field on its own, so a file
    with three wrong fields is answered with all three at once (not one per run); spec.json's schema
    then catches whatever they don't look at (a value of a type nobody expected), again naming the
    field. A config_error also carries the unknown-key warnings: a missing `credentials` next to a
    `credential` key is one mistake, and the message says so.
    """
    try:
        checks = _Checks()
        parsed = _parse(raw, now, checks) if isinstance(raw, Mapping) else None
        if not isinstance(raw, Mapping):
            checks.errors.append(config_error("config", "is not a JSON object.", "Pass a JSON object with at least credentials."))
        spec_error = None if checks.errors else _spec_error(raw)  # only what the checks don't look at: their words are better
        if spec_error is not None:
            checks.errors.append(spec_error)
        if checks.errors:
            raise _together(checks.errors)
        if parsed is None or checks.unexpected:
            raise config_error("config", "has a value of an unexpected type.", "Compare it with the connector's spec.")
    except AirbyteTracedException as error:
        raise _with_unknown_keys(error, raw) from None
    return parsed


class _Checks:
    """Each field's check on its own: its config_error is kept and the next field is checked."""

    def __init__(self) -> None:
        self.errors: List[AirbyteTracedException] = []
        self.unexpected = False  # a check failed on a value of a type it does not expect: the schema names the field

    def run(self, check: Callable[..., Any], *args: Any, default: Any = None) -> Any:
        try:
            return check(*args)
        except AirbyteTracedException as error:
            if all(error.message != said.message for said in self.errors):  # query_host checks base_url again when it stands for both
                self.errors.append(error)
        except Exception:  # noqa: BLE001 - a value of a type the checks don't expect: the schema check names it
            self.unexpected = True
        return default


def _together(errors: List[AirbyteTracedException]) -> AirbyteTracedException:
    """One config_error for all of them: the one as it is, or `N config fields need fixing: (1) ... (2) ...`."""
    if len(errors) == 1:
        return errors[0]
    listed = " ".join(f"({number}) {error.message}" for number, error in enumerate(errors, 1))
    message = f"{len(errors)} config fields need fixing: {listed}"
    return traced_config_error(message)


def _with_unknown_keys(error: AirbyteTracedException, raw: Any) -> AirbyteTracedException:
    warnings = unknown_keys(raw)
    if not warnings:
        return error
    message = f"{error.message} Also: {' '.join(warnings)}"
    return traced(error.failure_type, message)


def _spec_error(raw: Any) -> Optional[AirbyteTracedException]:
    try:
        _check_against_spec(raw)
    except AirbyteTracedException as error:
        return error
    return None


def _check_against_spec(raw: Any) -> None:
    validator = jsonschema.Draft7Validator(SPEC["connectionSpecification"])
    error = jsonschema.exceptions.best_match(validator.iter_errors(raw))
    if error is None:
        return
    path = ".".join(str(part) for part in error.absolute_path)
    if error.validator == "required":
        missing = re.search(r"'([^']+)' is a required property", error.message)
        path = ".".join(filter(None, [path, missing.group(1) if missing else ""]))
        raise config_error(path or "config", "is missing.", "Add it (see the connector's spec).")
    secret = any(str(part) in SECRET_FIELDS or str(part) == "credentials" for part in error.absolute_path)  # credentials' errors may quote a secret
    problem = f"does not match the spec ({error.validator} {error.validator_value!r})." if secret else f"{error.message}."
    raise config_error(path or "config", problem, "Fix the value (see the connector's spec).")


def _parse(raw: Mapping[str, Any], now: Callable[[], dt.datetime], checks: _Checks) -> Optional[MixpanelConfig]:
    """Every field checked, in the spec's order; None when any check failed (the reasons are in `checks`)."""
    run = checks.run
    project_id = run(fields.int_field, raw, "project_id", None, 1)
    said = len(checks.errors)
    credentials = run(fields.parse_credentials, raw.get("credentials"), project_id if project_id is not None or not said else 0)  # 0: a wrong one is said already
    region = run(fields.region, raw)
    base_url = run(fields.check_base_url, raw["base_url"]) if raw.get("base_url") is not None else REGION_HOSTS.get(region or "US")
    project_timezone = run(fields.timezone, raw)
    legacy = run(fields.legacy, raw, default=False)
    read_tz = ZoneInfo(project_timezone) if legacy and project_timezone else ZoneInfo("UTC")
    today = now().astimezone(read_tz).date()
    start_date = run(fields.start_date, raw, today, read_tz)
    end_date = run(fields.end_date, raw, start_date, read_tz)
    typed = {
        "events": run(fields.events, raw),
        "where": run(fields.where, raw),
        "date_window_days": run(fields.int_field, raw, "date_window_days", DEFAULT_DATE_WINDOW_DAYS, 1),
        "lookback_window_days": run(fields.int_field, raw, "lookback_window_days", DEFAULT_LOOKBACK_DAYS, 0),
        "request_timeout_seconds": run(fields.int_field, raw, "request_timeout_seconds", DEFAULT_TIMEOUT_SECONDS, 1),
        "query_base_url": run(fields.query_host, raw, region or "US") if region is not None else None,
        "fresh_overlap_minutes": run(fields.int_field, raw, "fresh_overlap_minutes", DEFAULT_OVERLAP_MINUTES, 0),
        "late_event_sweeps": run(fields.int_field, raw, "late_event_sweeps", DEFAULT_SWEEPS, 1),
        "window_target_events": run(fields.int_field, raw, "window_target_events", DEFAULT_TARGET_EVENTS, 1000),
        "group_keys": run(fields.group_keys, raw),
        "safety_sweep": run(fields.safety_sweep, raw),
        "arrival_overlap_minutes": run(fields.int_field, raw, "arrival_overlap_minutes", DEFAULT_ARRIVAL_OVERLAP_MINUTES, 0),
    }
    xdm = run(parse_xdm, raw)
    if checks.errors or checks.unexpected:
        return None
    return MixpanelConfig(
        credentials=credentials,
        project_id=project_id,
        region=region,
        base_url=base_url,
        project_timezone=project_timezone,
        legacy_local_time=legacy,
        start_date=start_date,
        end_date=end_date,
        **typed,
        **xdm,
    )
