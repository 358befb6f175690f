"""The typed config a stream reads (`MixpanelConfig`, `Credentials`, `XdmConfig`) and its defaults.

Plain data and the constants the checks and the streams share (region hosts, auth types, defaults);
no checking here: that is fields.py and xdm_fields.py, run by parse.py.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Mapping, Optional, Sequence, Tuple
from zoneinfo import ZoneInfo

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
    """The XDM settings as the user gave them, checked (`xdm_fields.parse_xdm`): plain data, so this module imports no XDM code.

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
