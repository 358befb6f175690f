"""Mixpanel raw events, shaped for Adobe Experience Platform, over the Airbyte protocol."""

from .source import SourceMixpanelAep

__all__ = ["SourceMixpanelAep"]
