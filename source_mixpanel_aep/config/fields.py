"""One check per config field (credentials, base_url, whole numbers, days, region, timezone, events, ...).

Each takes the raw config (or the one value), returns the field typed, or raises a config_error
naming the field and the fix; parse.py runs them one by one so every wrong field is reported at once.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from typing import Any, Mapping, Optional, Sequence, Tuple
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pendulum
from airbyte_cdk.utils.traced_exception import AirbyteTracedException
from tzlocal.windows_tz import win_tz  # CLDR's Windows -> IANA table, kept up to date by tzlocal

from .errors import config_error
from .model import (
    AUTH_TYPES,
    DEFAULT_SAFETY_SWEEP,
    DEFAULT_START_DAYS_AGO,
    REGION_HOSTS,
    REGION_QUERY_HOSTS,
    REQUIRED_CREDENTIALS,
    SAFETY_SWEEPS,
    Credentials,
)

_LOOPBACK_NAMES = {"localhost"}


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


def parse_credentials(raw: Any, project_id: Optional[int]) -> Credentials:
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


def check_base_url(value: Any, field: str = "base_url") -> str:
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


def int_field(raw: Mapping[str, Any], field: str, default: Optional[int], minimum: int) -> Optional[int]:
    value = raw.get(field, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):  # "5" too: the spec says integer, as Airbyte's UI sends it
        raise config_error(field, f"{value!r} is not a whole number.", f"Use an integer ≥ {minimum}.")
    if value < minimum:
        raise config_error(field, f"{value} is below {minimum}.", f"Use an integer ≥ {minimum}.")
    return value


def region(raw: Mapping[str, Any]) -> str:
    region = raw.get("region") or "US"
    if region not in REGION_HOSTS:
        raise config_error("region", f"{region!r} is not a Mixpanel region.", "Use US, EU or IN.")
    return region


def timezone(raw: Mapping[str, Any]) -> str:
    tz_name = raw.get("project_timezone") or "UTC"
    if not isinstance(tz_name, str):
        raise config_error("project_timezone", f"{tz_name!r} is not a timezone name.", "Use e.g. America/Los_Angeles.")
    return resolve_timezone(tz_name)


def legacy(raw: Mapping[str, Any]) -> bool:
    legacy = raw.get("legacy_local_time", False)
    if not isinstance(legacy, bool):
        raise config_error("legacy_local_time", f"{legacy!r} is not true or false.", "Use true for projects created before 2023, else false.")
    return legacy


def start_date(raw: Mapping[str, Any], today: dt.date, read_tz: ZoneInfo) -> dt.date:
    if raw.get("start_date") is None:
        return today - dt.timedelta(days=DEFAULT_START_DAYS_AGO)
    start_date = _parse_day("start_date", raw["start_date"], read_tz)
    if start_date > today:
        raise config_error("start_date", f"{start_date} is in the future (today is {today} in {read_tz}).", "Use a date on or before today.")
    return start_date


def end_date(raw: Mapping[str, Any], start_date: Optional[dt.date], read_tz: ZoneInfo) -> Optional[dt.date]:
    end_date = _parse_day("end_date", raw["end_date"], read_tz) if raw.get("end_date") is not None else None
    if end_date is not None and start_date is not None and end_date < start_date:
        raise config_error("end_date", f"{end_date} is before start_date {start_date}.", "Use an end_date on or after start_date, or remove it.")
    return end_date


def events(raw: Mapping[str, Any]) -> Sequence[str]:
    events = raw.get("events") or []
    if not isinstance(events, list) or not all(isinstance(name, str) and name for name in events):
        raise config_error("events", "must be a list of non-empty event names.", 'Use e.g. ["Sign up", "Items purchased"], or remove it.')
    return tuple(events)


def where(raw: Mapping[str, Any]) -> Optional[str]:
    where = raw.get("where")
    if where is not None and not isinstance(where, str):
        raise config_error("where", f"{where!r} is not a string.", "Use a Mixpanel segmentation expression, or remove it.")
    return where or None


def safety_sweep(raw: Mapping[str, Any]) -> str:
    value = raw.get("safety_sweep", DEFAULT_SAFETY_SWEEP)
    if value not in SAFETY_SWEEPS:
        raise config_error("safety_sweep", f"{value!r} is not a safety sweep.", f'Use "{SAFETY_SWEEPS[0]}" (the default) or "{SAFETY_SWEEPS[1]}".')
    return value


def query_host(raw: Mapping[str, Any], region: str) -> str:
    """Where the Query API streams (profiles, cohorts, annotations, funnels, ...) are read: `query_base_url`; else `base_url` when one is set; else the region's query host.

    Falling back to `base_url` keeps the promise that requests (and credentials) go only to the
    hosts a user named: a config pointed at a proxy or a local fake never reaches mixpanel.com
    because a new stream was selected. A proxy that serves only the export answers 404 for the
    query paths, and the error says to set query_base_url.
    """
    if raw.get("query_base_url") is not None:
        return check_base_url(raw["query_base_url"], "query_base_url")
    if raw.get("base_url") is not None:
        return check_base_url(raw["base_url"])
    return REGION_QUERY_HOSTS[region]


def group_keys(raw: Mapping[str, Any]) -> Tuple[Tuple[str, int], ...]:
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
