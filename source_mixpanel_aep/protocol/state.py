"""The `--state` file: every shape a user may bring, as per-stream state messages, or a config_error.

The CDK reads only a list of AirbyteStateMessages, and fails on anything else with a traceback
(system_error), or quietly ignores what it does not know (a LEGACY message, a file without our
stream), which would mean a full resync nobody asked for. Here:
- a list of STREAM messages: as is;
- the legacy form `{"events": {"timestamp": ...}}` (one key per stream), a LEGACY message's
  `data` in that form, a GLOBAL message's `stream_states`: turned into STREAM messages, with an
  INFO line saying so;
- STATE messages as a read prints them on stdout (`{"type": "STATE", "state": {...}, ...}`, with
  or without sourceStats), one per line (JSONL), in a list, or a single one: their `state`, and
  when a stream has several, the last one (the newest checkpoint), with an INFO line saying so;
- an empty file, `[]` or `{}`: no state (the stream then logs that it reads from start_date);
- no entry for any of our streams: a WARN line naming the streams the file does have;
- anything else (not JSON, a string, an entry that is not a state message): a config_error that
  says what was found and what is expected.
What a stream's own state may hold (`timestamp`, or another connector's `date`/`time`) is
checked by the stream (windows.parse_cursor).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Iterator, List, Mapping

from airbyte_cdk.models import AirbyteStateMessage, AirbyteStateMessageSerializer
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from ..cdk.errors import config_error
from ..streams import STREAM_NAMES

STREAM_NAME = "events"
KNOWN_STREAMS = STREAM_NAMES  # the catalog's streams (streams/__init__.py); the package's import loads them anyway
EXAMPLE = '[{"type": "STREAM", "stream": {"stream_descriptor": {"name": "events"}, "stream_state": {"timestamp": "2024-05-01T00:00:00.000Z"}}}]'


def state_file_error(problem: str) -> AirbyteTracedException:
    message = f"The --state file {problem}. Expected a list of Airbyte state messages like {EXAMPLE}, or the STATE lines a read printed. Fix the file, or reset the stream to sync from start_date."
    return config_error(message)


def read_state_file(path: str, logger: logging.Logger) -> List[AirbyteStateMessage]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise state_file_error(f"could not be read ({type(error).__name__})") from None
    if not text.strip():
        return []
    try:
        raw = json.loads(text)
    except ValueError as error:
        raw = _json_lines(text, error)
    return parse_state(raw, logger)


def _json_lines(text: str, error: ValueError) -> List[Any]:
    """A file of one JSON value per line (a read's STATE lines), as a list; else the first parse error."""
    entries = []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            entries.append(json.loads(line))
        except ValueError:
            raise state_file_error(f"is not valid JSON ({error})") from None
    if not all(isinstance(entry, Mapping) and entry.get("type") == "STATE" for entry in entries):
        kinds = sorted({str(entry.get("type")) if isinstance(entry, Mapping) else type(entry).__name__ for entry in entries} - {"STATE"})
        raise state_file_error(
            f"has several JSON lines, not all STATE messages (also: {', '.join(kinds)}). Keep only the STATE lines, "
            "e.g. grep '\"type\":\"STATE\"' out.jsonl > state.jsonl"
        )
    return entries


def parse_state(raw: Any, logger: logging.Logger) -> List[AirbyteStateMessage]:
    if raw is None or raw == [] or raw == {}:
        return []
    if isinstance(raw, Mapping) and "type" not in raw:
        for name, stream_state in raw.items():
            if not isinstance(stream_state, Mapping):
                raise state_file_error(
                    f"looks like the legacy {{stream name: state}} form, but its value for {name!r} is not an object "
                    "(a bare stream state such as {\"timestamp\": ...} must be wrapped in a state message)"
                )
        logger.info("The --state file is in the legacy {stream name: state} form; reading it as per-stream state.")
        raw = list(_streams(raw))
    elif isinstance(raw, Mapping):
        raw = [raw]  # one message, not in a list
    if not isinstance(raw, list):
        raise state_file_error(f"holds a JSON {type(raw).__name__}, not a list of state messages")
    raw = _unwrap_protocol_messages(raw, logger)
    messages: List[AirbyteStateMessage] = []
    for number, entry in enumerate(raw, 1):
        for message in _expand(entry, number, logger):
            try:
                messages.append(AirbyteStateMessageSerializer.load(message))
            except Exception:  # noqa: BLE001 - whatever the serializer rejects, the user gets the same clear answer
                raise state_file_error(f"has an entry (#{number}) that is not an Airbyte state message: {_excerpt(entry)}") from None
    messages = _last_per_stream(messages)
    names = sorted({message.stream.stream_descriptor.name for message in messages if message.stream})
    if messages and not set(names) & set(KNOWN_STREAMS):  # a file for profiles only is normal: events then logs its own start
        logger.warning(f"The --state file has no state for stream '{STREAM_NAME}' (it has: {', '.join(names) or 'nothing usable'}); it is read from start_date.")
    return messages


def _unwrap_protocol_messages(entries: List[Any], logger: logging.Logger) -> List[Any]:
    """`{"type": "STATE", "state": {...}}` (a line of a read's stdout) -> its `state`."""
    wrapped = [isinstance(entry, Mapping) and entry.get("type") == "STATE" and isinstance(entry.get("state"), Mapping) for entry in entries]
    if not any(wrapped):
        return entries
    logger.info(
        f"The --state file holds {sum(wrapped)} STATE message(s) as a read prints them; reading their state "
        "(the last one for each stream)."
    )
    return [entry["state"] if is_wrapped else entry for entry, is_wrapped in zip(entries, wrapped, strict=True)]


def _last_per_stream(messages: List[AirbyteStateMessage]) -> List[AirbyteStateMessage]:
    """One message per stream, the last one in the file: a read checkpoints in order, so it is the newest."""
    last = {}
    for index, message in enumerate(messages):
        descriptor = message.stream.stream_descriptor if message.stream else None
        key = (descriptor.name, descriptor.namespace) if descriptor else ("", index)
        last.pop(key, None)
        last[key] = message
    return list(last.values())


def _streams(by_name: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for name, stream_state in by_name.items():
        yield {"type": "STREAM", "stream": {"stream_descriptor": {"name": name}, "stream_state": stream_state}}


def _expand(entry: Any, number: int, logger: logging.Logger) -> Iterator[Any]:
    kind = entry.get("type") if isinstance(entry, Mapping) else None
    if kind == "LEGACY" and isinstance(entry.get("data"), Mapping):
        logger.info(f"The --state file's entry #{number} is a LEGACY state; reading its streams as per-stream state.")
        yield from _streams(entry["data"])
    elif kind == "GLOBAL" and isinstance(entry.get("global"), Mapping) and isinstance(entry["global"].get("stream_states"), list):
        logger.info(f"The --state file's entry #{number} is a GLOBAL state; reading its stream_states as per-stream state.")
        for stream in entry["global"]["stream_states"]:
            yield {"type": "STREAM", "stream": stream}
    else:
        yield entry


def _excerpt(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 120 else text[:120] + "..."
