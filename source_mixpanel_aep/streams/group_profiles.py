"""The `group_profiles` stream: the group profiles (Group Analytics) of each configured group key.

    POST https://mixpanel.com/api/query/engage?project_id=N
        body: data_group_id=1[&where=properties["$last_seen"] > "2024-05-01T09:00:00"][&session_id=...&page=1]
    -> {"page": 0, "page_size": 1000, "session_id": "...", "total": 12,
        "results": [{"$distinct_id": "acme", "$properties": {"$last_seen": "2024-01-02T03:04:05", "$name": "Acme"}}]}

`profiles` with `data_group_id`: ProfilesStream's query, read in `$last_seen` parts when its
session expires (streams/parts.py), its paging, cursor rule (min(top of the part read, start − 1 h),
moved after each complete part) and faults, once per group key of config `group_keys` (one query of
the Query API budget each, more only when a session expires, plus its pages). The state keeps a
cursor per group key: `{"group_keys": {"company_id": "2024-05-01T09:00:00Z"}}`, checkpointed after
each part. Mixpanel has no documented API that lists a project's group keys, so
they come from the config; selecting the stream without them is a config_error naming `group_keys`.
Records stay flat in xdm mode (AEP has no XDM class for Mixpanel's groups; load them as a lookup).
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Mapping, MutableMapping, Optional, Union

import requests
from airbyte_cdk.models import SyncMode

from ..config import config_error
from ..records.groups import to_group_profile
from .profiles import ProfilesStream, format_cursor, parse_cursor
from .query import saved_state


class GroupProfilesStream(ProfilesStream):
    name = "group_profiles"
    noun = "group profiles"

    def __init__(self, config: Any, **kwargs: Any):
        self._cursors: Dict[str, Any] = {}
        self._group: Mapping[str, Any] = {}
        super().__init__(config, **kwargs)
        self._xdm = None  # flat in both modes (see the module's docstring)

    @property
    def primary_key(self) -> Union[str, List[List[str]]]:
        return [["group_key"], ["group_id"]]

    @property
    def state(self) -> MutableMapping[str, Any]:
        cursors = dict(self._cursors)
        if self._group and self._cursor is not None:
            cursors[self._group["group_key"]] = self._cursor  # the key being read, up to its last complete part
        return {"group_keys": {key: format_cursor(cursor) for key, cursor in sorted(cursors.items())}} if cursors else {}

    @state.setter
    def state(self, value: MutableMapping[str, Any]) -> None:
        cursors = saved_state(
            value, "group_keys", lambda raw: {str(key): parse_cursor(cursor) for key, cursor in dict(raw).items()}, "group_profiles",
            '{"group_keys": {"company_id": "2024-05-01T00:00:00Z"}}', "Fix the state file, or reset the stream to read every group profile.",
        )
        self._cursors = cursors or {}

    def describe(self, stream_slice: Optional[Mapping[str, Any]] = None) -> str:
        return f"Stream 'group_profiles', group key {self._group.get('group_key')!r} (data_group_id {self._group.get('data_group_id')})"

    def stream_slices(self, sync_mode: SyncMode, cursor_field: Optional[List[str]] = None, stream_state: Optional[Mapping[str, Any]] = None) -> Iterable[Optional[Mapping[str, Any]]]:
        """ProfilesStream's parts, one group key after the other.

        Which key a part belongs to is this stream's state, not the slice's: the CDK asks for a slice
        ahead of reading, and ProfilesStream's plan decides what a slice reads. A key's plan is done
        before the next key starts, so its cursor is final when it is put aside.
        """
        if not self._config.group_keys:
            raise config_error("group_keys", "is empty, and the group_profiles stream is selected.",
                               'List the group keys to read, e.g. [{"group_key": "company_id", "data_group_id": 1}], or unselect group_profiles.')
        for key, data_group_id in self._config.group_keys:
            self._group = {"group_key": key, "data_group_id": data_group_id}
            self._cursor = self._cursors.pop(key, None)
            yield from super().stream_slices(sync_mode, cursor_field, stream_state)
            if self._cursor is not None:
                self._cursors[key] = self._cursor
            self._cursor = None
        self._group = {}

    def request_body_data(self, stream_state: Optional[Mapping[str, Any]], stream_slice: Optional[Mapping[str, Any]] = None, next_page_token: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
        body = super().request_body_data(stream_state, stream_slice, next_page_token)
        body["data_group_id"] = self._group["data_group_id"]
        return body

    def parse_response(self, response: requests.Response, **kwargs: Any) -> Iterable[Dict[str, Any]]:
        key = self._group["group_key"]
        for record in super().parse_response(response, **kwargs):
            yield to_group_profile(key, record)
