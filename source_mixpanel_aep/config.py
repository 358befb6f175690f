"""Typed connector configuration, built from the raw config dict.

`spec.json` declares the shape (types, enums, minimums); `parse_config` is the one place that
checks what a JSON schema can't (dates in order, a known timezone, base_url rules, project_id with
a service account) and turns every mistake into a `config_error` that names the field and says how
to fix it. Streams read a `MixpanelConfig`; nothing here knows about HTTP or records.
"""

from __future__ import annotations

import datetime as dt
import difflib
import ipaddress
import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Callable, List, Mapping, MutableMapping, Optional, Sequence, Tuple
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jsonschema
import pendulum
from airbyte_cdk.sources.utils.schema_helpers import InternalConfig
from airbyte_cdk.utils.traced_exception import AirbyteTracedException
from tzlocal.windows_tz import win_tz  # CLDR's Windows -> IANA table, kept up to date by tzlocal

from .cdk.errors import config_error as traced_config_error
from .cdk.errors import traced
from .records.vocabulary import DEFAULT_NAMESPACES, IDENTITY_KEYS, TAKEN_PROPERTIES, XDM_TYPES  # a leaf: tables only, no XDM code

SPEC: Mapping[str, Any] = json.loads(resources.files(__package__).joinpath("spec.json").read_text(encoding="utf-8"))
SECRET_FIELDS = ("secret", "api_secret", "access_token")
REGION_HOSTS = {
    "US": "https://data.mixpanel.com",
    "EU": "https://data-eu.mixpanel.com",
    "IN": "https://data-in.mixpanel.com",
}
# The Query API (profiles, cohorts) is on another host than the raw export.
REGION_QUERY_HOSTS = {
    "US": "https://mixpanel.com",
    "EU": "https://eu.mixpanel.com",
    "IN": "https://in.mixpanel.com",
}
AUTH_TYPES = ("service_account", "project_secret", "oauth_token")
REQUIRED_CREDENTIALS: Mapping[str, Sequence[str]] = {
    "service_account": ("username", "secret"),
    "project_secret": ("api_secret",),
    "oauth_token": ("access_token",),
}
CREDENTIAL_KEYS = {key: f" (with auth_type {auth_type})" for auth_type, keys in REQUIRED_CREDENTIALS.items() for key in keys} | {"auth_type": ""}
DEFAULT_START_DAYS_AGO = 30
DEFAULT_DATE_WINDOW_DAYS = 30
DEFAULT_LOOKBACK_DAYS = 5
DEFAULT_OVERLAP_MINUTES = 10
DEFAULT_SWEEPS = 1
DEFAULT_TARGET_EVENTS = 2_000_000
SAFETY_SWEEPS = ("events_without_arrival_time", "full_days")
DEFAULT_SAFETY_SWEEP = SAFETY_SWEEPS[0]
DEFAULT_ARRIVAL_OVERLAP_MINUTES = 5  # Mixpanel's ingestion lag (stamped -> exportable) is seconds to a minute; 15-min syncs then send 20/15 = 1.33x
DEFAULT_TIMEOUT_SECONDS = 300
_LOOPBACK_NAMES = {"localhost"}


def config_error(field: str, problem: str, fix: str) -> AirbyteTracedException:
    """A user's mistake: the message names the field and says what to do."""
    message = f"Config field '{field}': {problem} {fix}".strip()
    return traced_config_error(message)


@dataclass(frozen=True)
class Credentials:
    auth_type: str
    username: Optional[str] = None
    secret: Optional[str] = None
    api_secret: Optional[str] = None
    access_token: Optional[str] = None

    def __repr__(self) -> str:  # never let a secret reach a log through repr()
        return f"Credentials(auth_type={self.auth_type!r}, ...)"


@dataclass(frozen=True)
class XdmConfig:
    """The XDM settings as the user gave them, checked (`_parse_xdm`): plain data, so this module imports no XDM code.

    records/xdm.xdm_settings makes the XdmSettings the records and AEP payloads use (the xdm_fields named).
    """

    tenant: str  # without the leading underscore
    namespaces: Mapping[str, Optional[str]]  # every Mixpanel id -> its namespace code; None leaves that identity out
    fields: Mapping[str, str]  # xdm_fields: Mixpanel property -> XDM type


@dataclass(frozen=True)
class MixpanelConfig:
    credentials: Credentials
    project_id: Optional[int]
    region: str
    base_url: str
    project_timezone: str  # IANA name, resolved from whatever form the user gave
    legacy_local_time: bool
    start_date: dt.date  # in the read timezone
    end_date: Optional[dt.date]
    date_window_days: int
    lookback_window_days: int
    events: Sequence[str]
    where: Optional[str]
    request_timeout_seconds: int
    output_format: str = "flat"  # "flat" or "xdm"
    xdm: Optional[XdmConfig] = None  # set whenever output_format is "xdm"; records.xdm.xdm_settings makes the XDM settings of it
    query_base_url: str = REGION_QUERY_HOSTS["US"]  # profiles, cohorts, cohort_members (see query_host)
    fresh_overlap_minutes: int = DEFAULT_OVERLAP_MINUTES  # the fresh part starts this long before the cursor (streams/plan.py)
    late_event_sweeps: int = DEFAULT_SWEEPS  # full re-reads of each past day inside the lookback
    window_target_events: int = DEFAULT_TARGET_EVENTS  # about this many events per request, once the rate is known
    group_keys: Tuple[Tuple[str, int], ...] = ()  # (group key, data_group_id) for group_profiles
    safety_sweep: str = DEFAULT_SAFETY_SWEEP  # what the arrival plan's sweep of a past day reads (streams/arrival.py)
    arrival_overlap_minutes: int = DEFAULT_ARRIVAL_OVERLAP_MINUTES  # the arrival read starts this long before the arrival cursor

    @property
    def read_timezone(self) -> ZoneInfo:
        """The timezone Mixpanel reads from_date/to_date in: UTC, or the project's for legacy projects."""
        return ZoneInfo(self.project_timezone) if self.legacy_local_time else ZoneInfo("UTC")

    @property
    def source_timezone(self) -> Optional[ZoneInfo]:
        """The timezone raw `time` values are written in, None when they are already UTC."""
        return ZoneInfo(self.project_timezone) if self.legacy_local_time else None

    def today(self, now: Optional[dt.datetime] = None) -> dt.date:
        now = now or dt.datetime.now(dt.timezone.utc)
        return now.astimezone(self.read_timezone).date()


def resolve_timezone(name: str) -> str:
    """An IANA name for `name`, which may be IANA (`Europe/Paris`) or Windows-style (`Pacific Standard Time`)."""
    candidate = win_tz.get(name.strip(), name.strip())
    try:
        ZoneInfo(candidate)
    except (ZoneInfoNotFoundError, ValueError, IsADirectoryError):
        raise config_error(
            "project_timezone",
            f"'{name}' is not a known timezone.",
            "Use the IANA name shown in Mixpanel's project settings (e.g. America/Los_Angeles) "
            "or the Windows-style name AEP shows (e.g. Pacific Standard Time).",
        ) from None
    return candidate


def _parse_day(field: str, value: Any, tz: ZoneInfo) -> dt.date:
    """A day from YYYY-MM-DD or RFC 3339, in the timezone Mixpanel reads days in.

    A date, or a date-time without an offset, is that day as written. A date-time with an offset is
    that instant, and its day is taken where Mixpanel reads days (UTC, or a legacy project's zone).
    """
    fix = "Use YYYY-MM-DD or RFC 3339, e.g. 2024-01-31 or 2024-01-31T00:00:00Z."
    if not isinstance(value, str) or not re.match(r"\s*\d{4}-\d{2}-\d{2}", value):
        raise config_error(field, f"{value!r} is not a date.", fix)
    try:
        parsed = pendulum.parse(value.strip(), strict=False, tz=None)
        if isinstance(parsed, pendulum.DateTime):
            if parsed.tzinfo is None:
                return dt.date(parsed.year, parsed.month, parsed.day)
            offset = parsed.utcoffset()
            if offset is None or abs(offset) >= dt.timedelta(hours=24):
                raise ValueError("the offset is not a real one")
            return parsed.in_timezone(str(tz)).date()
        if isinstance(parsed, pendulum.Date):
            return dt.date(parsed.year, parsed.month, parsed.day)
    except AirbyteTracedException:
        raise
    except Exception:  # noqa: BLE001 - pendulum and datetime fail in many ways (ParserError, OverflowError, ValueError): one answer
        raise config_error(field, f"'{value}' is not a valid date.", fix) from None
    raise config_error(field, f"'{value}' is not a date.", fix)


def read_config_file(path: str) -> MutableMapping[str, Any]:
    """The --config file as a dict; a config_error saying what is wrong with the file otherwise.

    Never quotes the file's content: it holds secrets. Line and column are enough to find a typo.
    """
    def file_error(problem: str) -> AirbyteTracedException:
        message = f"The --config file {path} {problem}"
        return traced_config_error(message)

    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise file_error(f"could not be read ({type(error).__name__}: {getattr(error, 'strerror', None) or 'not UTF-8 text'}).") from None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as error:
        raise file_error(
            f"is not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}. "
            "Fix the file (a JSON object, keys and strings in double quotes, no trailing commas)."
        ) from None
    if not isinstance(raw, MutableMapping):
        raise file_error(f"holds a JSON {type(raw).__name__}, not an object. Pass a JSON object such as {{\"credentials\": {{...}}}}.")
    return raw


def unknown_keys(raw: Any) -> List[str]:
    """One warning per top-level key the spec does not know, naming the closest known field.

    Warned, never failed: the Airbyte UI only sends the spec's fields, but a saved config can keep a
    field an older version had, and a config written for another Mixpanel connector has its own;
    failing would stop those syncs for a key that changes nothing. A misspelling is the case that
    matters (`startDate` means the 30-day default start), hence "did you mean". The CDK's own keys
    (`_limit`, `_page_size`, `__injected_...`) are not the user's and are left alone.
    """
    if not isinstance(raw, Mapping):
        return []
    known = list(SPEC["connectionSpecification"]["properties"])
    by_spelling = {_normalised(name): name for name in known}
    warnings = []
    for key in raw:
        if not isinstance(key, str) or key in known or key in InternalConfig.KEYWORDS or key.startswith("__"):
            continue
        closest = difflib.get_close_matches(_normalised(key), list(by_spelling), n=1, cutoff=0.6)
        if key in CREDENTIAL_KEYS:
            hint = f"It belongs inside 'credentials'{CREDENTIAL_KEYS[key]}."
        elif closest:
            hint = f"Did you mean '{by_spelling[closest[0]]}'?"
        else:
            hint = f"Known fields: {', '.join(known)}."
        warnings.append(f"Config key '{key}' is not a field of this connector and is ignored. {hint}")
    return warnings


def _normalised(key: str) -> str:
    """`startDate`, `Start-Date`, `start date` -> `startdate`: compares spellings, not styles."""
    return re.sub(r"[^a-z0-9]", "", key.lower())


def _parse_credentials(raw: Any, project_id: Optional[int]) -> Credentials:
    if not isinstance(raw, Mapping):
        raise config_error("credentials", "is missing.", f"Set credentials.auth_type to one of {', '.join(AUTH_TYPES)} with its secret.")
    auth_type = raw.get("auth_type")
    if auth_type is None:
        raise config_error(
            "credentials.auth_type", "is missing.",
            f"Set it to one of {', '.join(AUTH_TYPES)} (service_account needs username and secret, and project_id; "
            "project_secret needs api_secret; oauth_token needs access_token).",
        )
    if auth_type not in REQUIRED_CREDENTIALS:
        raise config_error("credentials.auth_type", f"{auth_type!r} is not supported.", f"Use one of {', '.join(AUTH_TYPES)}.")
    for key in REQUIRED_CREDENTIALS[auth_type]:
        value = raw.get(key)
        if not isinstance(value, str) or not value.strip():
            raise config_error(f"credentials.{key}", f"is missing, empty or not text for {auth_type}.", f"Paste the {key} from Mixpanel's settings.")
        _check_header_safe(key, value.strip())
    if auth_type == "service_account" and project_id is None:
        raise config_error("project_id", "is required with a service account.", "Set it to the numeric id in Mixpanel's Project Settings.")
    # A pasted secret often brings a line break or spaces along: they are never part of a Mixpanel secret.
    values = {key: raw[key].strip() if isinstance(raw.get(key), str) else raw.get(key) for key in ("username", "secret", "api_secret", "access_token")}
    return Credentials(auth_type=auth_type, **values)


def _check_header_safe(key: str, value: str) -> None:
    """A credential goes into an HTTP header: a control character or non-Latin-1 text inside it cannot (never quoted back)."""
    if any(ord(char) < 32 or ord(char) == 127 for char in value) or not value.isascii() and not _latin1(value):
        raise config_error(
            f"credentials.{key}", "contains a line break, tab or other character that cannot be sent to Mixpanel.",
            f"Copy the {key} again from Mixpanel's settings (only its own characters; surrounding spaces and line breaks are removed for you).",
        )


def _latin1(value: str) -> bool:
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


def _check_base_url(value: Any, field: str = "base_url") -> str:
    fix = "Use https://host[:port][/path], or http:// only to 127.0.0.1, localhost or ::1."
    if not isinstance(value, str) or not value.strip():
        raise config_error(field, "is empty.", "Remove it to use the region's host. " + fix)
    parts = urlsplit(value.strip())
    if "@" in parts.netloc:  # checked first: the messages below must never echo a password
        raise config_error(field, "must not contain a user name or password.", "Put credentials in the credentials field.")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise config_error(field, f"'{value}' is not an http(s) URL.", fix)
    if parts.query or parts.fragment:
        raise config_error(field, "must not have a query string or fragment.", fix)
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise config_error(field, f"plain http to '{parts.hostname}' would send credentials unencrypted.", fix)
    return value.strip().rstrip("/")


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _int_field(raw: Mapping[str, Any], field: str, default: Optional[int], minimum: int) -> Optional[int]:
    value = raw.get(field, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):  # "5" too: the spec says integer, as Airbyte's UI sends it
        raise config_error(field, f"{value!r} is not a whole number.", f"Use an integer ≥ {minimum}.")
    if value < minimum:
        raise config_error(field, f"{value} is below {minimum}.", f"Use an integer ≥ {minimum}.")
    return value


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


def _region(raw: Mapping[str, Any]) -> str:
    region = raw.get("region") or "US"
    if region not in REGION_HOSTS:
        raise config_error("region", f"{region!r} is not a Mixpanel region.", "Use US, EU or IN.")
    return region


def _timezone(raw: Mapping[str, Any]) -> str:
    tz_name = raw.get("project_timezone") or "UTC"
    if not isinstance(tz_name, str):
        raise config_error("project_timezone", f"{tz_name!r} is not a timezone name.", "Use e.g. America/Los_Angeles.")
    return resolve_timezone(tz_name)


def _legacy(raw: Mapping[str, Any]) -> bool:
    legacy = raw.get("legacy_local_time", False)
    if not isinstance(legacy, bool):
        raise config_error("legacy_local_time", f"{legacy!r} is not true or false.", "Use true for projects created before 2023, else false.")
    return legacy


def _start_date(raw: Mapping[str, Any], today: dt.date, read_tz: ZoneInfo) -> dt.date:
    if raw.get("start_date") is None:
        return today - dt.timedelta(days=DEFAULT_START_DAYS_AGO)
    start_date = _parse_day("start_date", raw["start_date"], read_tz)
    if start_date > today:
        raise config_error("start_date", f"{start_date} is in the future (today is {today} in {read_tz}).", "Use a date on or before today.")
    return start_date


def _end_date(raw: Mapping[str, Any], start_date: Optional[dt.date], read_tz: ZoneInfo) -> Optional[dt.date]:
    end_date = _parse_day("end_date", raw["end_date"], read_tz) if raw.get("end_date") is not None else None
    if end_date is not None and start_date is not None and end_date < start_date:
        raise config_error("end_date", f"{end_date} is before start_date {start_date}.", "Use an end_date on or after start_date, or remove it.")
    return end_date


def _events(raw: Mapping[str, Any]) -> Sequence[str]:
    events = raw.get("events") or []
    if not isinstance(events, list) or not all(isinstance(name, str) and name for name in events):
        raise config_error("events", "must be a list of non-empty event names.", 'Use e.g. ["Sign up", "Items purchased"], or remove it.')
    return tuple(events)


def _where(raw: Mapping[str, Any]) -> Optional[str]:
    where = raw.get("where")
    if where is not None and not isinstance(where, str):
        raise config_error("where", f"{where!r} is not a string.", "Use a Mixpanel segmentation expression, or remove it.")
    return where or None


def _parse(raw: Mapping[str, Any], now: Callable[[], dt.datetime], checks: _Checks) -> Optional[MixpanelConfig]:
    """Every field checked, in the spec's order; None when any check failed (the reasons are in `checks`)."""
    run = checks.run
    project_id = run(_int_field, raw, "project_id", None, 1)
    said = len(checks.errors)
    credentials = run(_parse_credentials, raw.get("credentials"), project_id if project_id is not None or not said else 0)  # 0: a wrong one is said already
    region = run(_region, raw)
    base_url = run(_check_base_url, raw["base_url"]) if raw.get("base_url") is not None else REGION_HOSTS.get(region or "US")
    project_timezone = run(_timezone, raw)
    legacy = run(_legacy, raw, default=False)
    read_tz = ZoneInfo(project_timezone) if legacy and project_timezone else ZoneInfo("UTC")
    today = now().astimezone(read_tz).date()
    start_date = run(_start_date, raw, today, read_tz)
    end_date = run(_end_date, raw, start_date, read_tz)
    fields = {
        "events": run(_events, raw),
        "where": run(_where, raw),
        "date_window_days": run(_int_field, raw, "date_window_days", DEFAULT_DATE_WINDOW_DAYS, 1),
        "lookback_window_days": run(_int_field, raw, "lookback_window_days", DEFAULT_LOOKBACK_DAYS, 0),
        "request_timeout_seconds": run(_int_field, raw, "request_timeout_seconds", DEFAULT_TIMEOUT_SECONDS, 1),
        "query_base_url": run(query_host, raw, region or "US") if region is not None else None,
        "fresh_overlap_minutes": run(_int_field, raw, "fresh_overlap_minutes", DEFAULT_OVERLAP_MINUTES, 0),
        "late_event_sweeps": run(_int_field, raw, "late_event_sweeps", DEFAULT_SWEEPS, 1),
        "window_target_events": run(_int_field, raw, "window_target_events", DEFAULT_TARGET_EVENTS, 1000),
        "group_keys": run(_group_keys, raw),
        "safety_sweep": run(_safety_sweep, raw),
        "arrival_overlap_minutes": run(_int_field, raw, "arrival_overlap_minutes", DEFAULT_ARRIVAL_OVERLAP_MINUTES, 0),
    }
    xdm = run(_parse_xdm, raw)
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
        **fields,
        **xdm,
    )


def _safety_sweep(raw: Mapping[str, Any]) -> str:
    value = raw.get("safety_sweep", DEFAULT_SAFETY_SWEEP)
    if value not in SAFETY_SWEEPS:
        raise config_error("safety_sweep", f"{value!r} is not a safety sweep.", f'Use "{SAFETY_SWEEPS[0]}" (the default) or "{SAFETY_SWEEPS[1]}".')
    return value


_TENANT = re.compile(r"_?([A-Za-z0-9][A-Za-z0-9_]*)")
_NAMESPACE_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def _parse_xdm(raw: Mapping[str, Any]) -> Mapping[str, Any]:
    """output_format and, for "xdm", the tenant, identity namespaces and promoted fields (XdmConfig).

    The XDM fields are checked whenever they are given, even with flat output: a mistake there
    would otherwise only show the day someone switches to xdm.
    """
    output_format = raw.get("output_format", "flat")
    if output_format not in ("flat", "xdm"):
        raise config_error("output_format", f"{output_format!r} is not an output format.", 'Use "flat" (the default) or "xdm".')
    tenant_value = raw.get("xdm_tenant_id")
    tenant = None
    if tenant_value is not None:
        match = _TENANT.fullmatch(tenant_value.strip()) if isinstance(tenant_value, str) else None
        if not match:
            raise config_error("xdm_tenant_id", f"{tenant_value!r} is not a tenant id.",
                               "Use your organisation's tenant id, letters and digits, with or without the leading underscore (e.g. _extconndev).")
        tenant = match.group(1)
    elif output_format == "xdm":
        raise config_error("xdm_tenant_id", 'is required when output_format is "xdm".',
                           "Set it to your organisation's tenant id (AEP: the `_<tenant>` object in your schemas, e.g. _extconndev).")
    namespaces = dict(DEFAULT_NAMESPACES)
    for key, code in _object(raw, "identity_namespaces", '{"distinct_id": "MixpanelDistinctId", "device_id": null}').items():
        field = f"identity_namespaces.{key}"
        if key not in IDENTITY_KEYS:
            raise config_error(field, "is not a Mixpanel id this connector maps.", f"Use {', '.join(IDENTITY_KEYS)}.")
        if code is not None and not (isinstance(code, str) and _NAMESPACE_CODE.fullmatch(code)):
            raise config_error(field, f"{code!r} is not an identity namespace code.", "Use a code such as MixpanelDistinctId or Email, or null to leave this identity out.")
        namespaces[key] = code
    xdm_fields = _object(raw, "xdm_fields", '{"$browser": "string", "plan_seats": "integer"} (Mixpanel property name -> type)')
    for name, xdm_type in xdm_fields.items():
        field = f"xdm_fields.{name}"
        if not name:
            raise config_error("xdm_fields", "has an empty property name.", "Use Mixpanel property names as keys.")
        if name in TAKEN_PROPERTIES:
            raise config_error(field, "is already a field of its own in every XDM record.", "Remove it from xdm_fields.")
        if xdm_type not in XDM_TYPES:
            raise config_error(field, f"{xdm_type!r} is not a supported XDM type.", f"Use one of {', '.join(XDM_TYPES)}.")
    if output_format != "xdm":
        return {"output_format": output_format}
    return {"output_format": output_format, "xdm": XdmConfig(tenant, namespaces, dict(xdm_fields))}


def _object(raw: Mapping[str, Any], field: str, example: str) -> Mapping[str, Any]:
    """An optional JSON object field; absent or null is empty."""
    value = raw.get(field)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise config_error(field, "is not an object.", f"Use e.g. {example}.")
    return value


def query_host(raw: Mapping[str, Any], region: str) -> str:
    """Where the Query API streams (profiles, cohorts, annotations, funnels, ...) are read: `query_base_url`; else `base_url` when one is set; else the region's query host.

    Falling back to `base_url` keeps the promise that requests (and credentials) go only to the
    hosts a user named: a config pointed at a proxy or a local fake never reaches mixpanel.com
    because a new stream was selected. A proxy that serves only the export answers 404 for the
    query paths, and the error says to set query_base_url.
    """
    if raw.get("query_base_url") is not None:
        return _check_base_url(raw["query_base_url"], "query_base_url")
    if raw.get("base_url") is not None:
        return _check_base_url(raw["base_url"])
    return REGION_QUERY_HOSTS[region]


def _group_keys(raw: Mapping[str, Any]) -> Tuple[Tuple[str, int], ...]:
    """`[{"group_key": "company_id", "data_group_id": 1}]` -> (("company_id", 1),); a config_error naming the entry otherwise."""
    entries = raw.get("group_keys") or []
    fix = 'Use e.g. [{"group_key": "company_id", "data_group_id": 1}] (the ids are in Project Settings > Group Keys), or remove it.'
    if not isinstance(entries, list):
        raise config_error("group_keys", f"{entries!r} is not a list.", fix)
    keys = []
    for number, entry in enumerate(entries):
        key = entry.get("group_key") if isinstance(entry, Mapping) else None
        group_id = entry.get("data_group_id") if isinstance(entry, Mapping) else None
        if not isinstance(key, str) or not key or isinstance(group_id, bool) or not isinstance(group_id, int) or group_id < 0:
            raise config_error(f"group_keys.{number}", f"{entry!r} is not a group key with a data_group_id.", fix)
        keys.append((key, group_id))
    if len({key for key, _ in keys}) < len(keys):
        raise config_error("group_keys", "names a group key twice.", "List each group key once.")
    return tuple(keys)
