"""Pure: raw Mixpanel answers -> records (flat and XDM) and their JSON schemas. No HTTP, no protocol code."""
