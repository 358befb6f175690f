"""Flat `profiles` record -> XDM Individual Profile record, as Adobe Experience Platform ingests it without a mapping set.

Pure functions only: no HTTP, no Airbyte protocol. The input is the record `people.to_profile`
already made, and the output is

    {"_id": "<32 hex: digest of the flat record>",
     "identityMap": {"MixpanelDistinctId": [{"id": "u1", "authenticatedState": "ambiguous", "primary": true}],
                     "Email": [{"id": "ada@example.com", "authenticatedState": "ambiguous", "primary": false}]},
     "person": {"name": {"firstName": "Ada", "lastName": "Lovelace", "fullName": "Ada Lovelace"}},
     "personalEmail": {"address": "ada@example.com"},
     "mobilePhone": {"number": "+44 20 7946 0000"},
     "homeAddress": {"city": "London", "region": "England", "countryCode": "GB"},
     "_<tenant>": {"distinct_id": "u1", "last_seen": "2024-05-01T09:00:00Z", "created": "2023-01-02T03:04:05Z",
                   "timezone": "Europe/London", "properties": {<every other property, original name, value as text>}}}

Two tables drive the records here and the field group, schema and discover schema in
`xdm_profile_payloads`: STANDARD_FIELDS (the reserved properties that have a place in Adobe's
standard field groups, Demographic Details and Personal Contact Details) and PROFILE_FIELDS (the
tenant object's typed fields). The `properties` map follows the events' rules (`xdm.strings_in_place`).

Rules:
- `_id` is the record's id, not the person's (Adobe: a hash of the fields that make the record
  unique, no colons): a digest of the whole flat record. The same profile read twice unchanged (the
  cursor's overlap, a restarted query) gets the same `_id`; any change gives a new one.
- A reserved value XDM's standard field refuses (an `$email` that is not a valid address, a
  `$country_code` that is not two letters) is left out of that field and kept in `properties`
  under its original name; one that had to be converted (`gb` -> `GB`, a number `$phone` -> its
  text) is kept there too, as for events. Nothing is lost.
- `$email`, when the standard field takes it, is also an identity in AEP's standard `Email`
  namespace (ambiguous, not primary); distinct_id is the primary identity under its configured
  namespace. AEP's identity guardrails (`xdm.usable_identity`): a value it blocks is no identity.
  No null anywhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple

from .mapping import content_id
from .xdm import PROPERTIES_FIELD, Field, XdmSettings, add_identity, strings_in_place

EMAIL_NAMESPACE = "Email"  # AEP's standard namespace: every organisation has it
COUNTRY_CODE_PATTERN = "^[A-Z]{2}$"  # Adobe's geo datatype: ISO 3166-1 alpha-2
# What AEP's `format: email` takes (adobe/xdm's emailaddress datatype; streaming ingestion refuses the rest): ASCII
# only, a dot-atom local part (no leading, trailing or doubled dot; no `<>,;:()[]"` or spaces) of at most 64
# characters, and a domain of letter/digit/hyphen labels (none starting or ending with `-`) under a top-level
# domain of letters, at most 254 characters in all.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_EMAIL = re.compile(rf"(?=[^@]{{1,64}}@){_ATOM}(?:\.{_ATOM})*@(?:{_LABEL}\.)+[A-Za-z]{{2,63}}")
EMAIL_MAX_LENGTH = 254


def _as_is(value: str) -> Optional[str]:
    return value


def _email(value: str) -> Optional[str]:
    return value if len(value) <= EMAIL_MAX_LENGTH and _EMAIL.fullmatch(value) else None


def _country_code(value: str) -> Optional[str]:
    code = value.strip().upper()
    return code if re.fullmatch(COUNTRY_CODE_PATTERN, code) else None


@dataclass(frozen=True)
class StandardField:
    """A flat column that goes to a field of one of Adobe's standard profile field groups."""

    column: str  # the flat record's column
    source: str  # the reserved Mixpanel property it comes from
    path: Tuple[str, ...]  # where it goes in the XDM record
    title: str
    accept: Callable[[str], Optional[str]] = _as_is  # the value as XDM takes it, or None when XDM's type refuses it
    constraint: Tuple[Tuple[str, str], ...] = ()  # what Adobe's datatype says of the string (format, pattern)


STANDARD_FIELDS: Tuple[StandardField, ...] = (
    StandardField("first_name", "$first_name", ("person", "name", "firstName"), "First name"),
    StandardField("last_name", "$last_name", ("person", "name", "lastName"), "Last name"),
    StandardField("name", "$name", ("person", "name", "fullName"), "Full name"),
    StandardField("email", "$email", ("personalEmail", "address"), "Personal email address", _email, (("format", "email"),)),
    StandardField("phone", "$phone", ("mobilePhone", "number"), "Mobile phone number"),
    StandardField("city", "$city", ("homeAddress", "city"), "City"),
    # $region is a name ("California"); stateProvince takes ISO 3166-2 codes only ("US-CA"): region is the free-text field
    StandardField("region", "$region", ("homeAddress", "region"), "Region"),
    StandardField("country_code", "$country_code", ("homeAddress", "countryCode"), "Country code", _country_code,
                  (("pattern", COUNTRY_CODE_PATTERN),)),
)

PROFILE_FIELDS: Tuple[Field, ...] = (
    Field("distinct_id", "string", "$distinct_id", "Distinct ID", "Mixpanel's id of the person ($distinct_id, as text); also the primary identity."),
    Field("last_seen", "string", "$last_seen", "Last seen", "$last_seen in UTC (read as UTC when Mixpanel sends no offset).", "date-time"),
    Field("created", "string", "$created", "Created", "$created in UTC (read as UTC when Mixpanel sends no offset).", "date-time"),
    Field("timezone", "string", "$timezone", "Timezone", "$timezone, the person's IANA timezone name."),
)


def to_xdm_profile(flat: Dict[str, Any], settings: XdmSettings) -> Dict[str, Any]:
    """One flat `profiles` record -> its XDM Individual Profile record. Consumes `flat`: its `properties` become the map."""
    record: Dict[str, Any] = {"_id": content_id(flat)}
    properties: Dict[str, Any] = flat.pop(PROPERTIES_FIELD, None) or {}
    identities: Dict[str, List[Dict[str, Any]]] = {}
    namespace = settings.namespaces.get("distinct_id")
    if namespace:  # a distinct_id AEP blocks ("null", over 1,024 characters) is no identity; it stays `_<tenant>.distinct_id`, the key
        add_identity(identities, namespace, flat["distinct_id"], "ambiguous", True)
    standard: Dict[str, Any] = {}
    for field in STANDARD_FIELDS:
        value = flat.get(field.column)
        if value is None:
            continue
        taken = field.accept(value)
        if taken != value:  # refused or converted: the original stays in the map, as for events
            properties.setdefault(field.source, value)
        if taken is None:
            continue
        node = standard
        for key in field.path[:-1]:
            node = node.setdefault(key, {})
        node[field.path[-1]] = taken
        if field.column == "email" and not add_identity(identities, EMAIL_NAMESPACE, taken, "ambiguous", False):
            properties.setdefault(field.source, value)  # an address Identity Service blocks: kept in the map as well
    if identities:
        record["identityMap"] = identities
    record.update(standard)
    tenant = {field.name: flat[field.name] for field in PROFILE_FIELDS if flat.get(field.name) is not None}
    if strings_in_place(properties):
        tenant[PROPERTIES_FIELD] = properties
    record[settings.tenant_key] = tenant
    return record
