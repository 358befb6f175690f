"""Mixpanel's credentials as request auth, and every printable form of their secrets given to the CDK's secret filter first."""

from __future__ import annotations

import base64
import json
from typing import Iterable

from airbyte_cdk.sources.streams.http.requests_native_auth import BasicHttpAuthenticator, TokenAuthenticator
from airbyte_cdk.utils.airbyte_secrets_utils import add_to_secrets
from requests.auth import AuthBase

from ..config import Credentials


def secret_forms(value: str) -> Iterable[str]:
    """Every way a secret may be printed: as is, trimmed, JSON- and repr-escaped (a header error quotes it escaped)."""
    for text in {value, value.strip()}:
        if text:
            yield text
            yield json.dumps(text)[1:-1]
            yield json.dumps(text, ensure_ascii=False)[1:-1]
            yield repr(text)[1:-1]


def register_secrets(credentials: Credentials) -> None:
    """Give the CDK's log and trace filter every form of every secret, before anything can echo one."""
    for value in (credentials.secret, credentials.api_secret, credentials.access_token):
        for form in secret_forms(value or ""):
            add_to_secrets(form)
    if credentials.auth_type != "oauth_token":  # Basic credentials are only base64-encoded in the header
        user, password = basic_pair(credentials)
        add_to_secrets(base64.b64encode(f"{user}:{password}".encode("utf-8")).decode("ascii"))


def basic_pair(credentials: Credentials) -> tuple:
    if credentials.auth_type == "service_account":
        return credentials.username or "", credentials.secret or ""
    return credentials.api_secret or "", ""


def authenticator(credentials: Credentials) -> AuthBase:
    """Service account and project secret are HTTP Basic; an OAuth token is a Bearer header."""
    register_secrets(credentials)
    if credentials.auth_type == "oauth_token":
        return TokenAuthenticator(token=credentials.access_token or "")
    user, password = basic_pair(credentials)
    return BasicHttpAuthenticator(username=user, password=password)
