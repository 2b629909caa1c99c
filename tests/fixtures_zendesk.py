"""Fixtures for the local Zendesk-compatible server and the zenpy connector (owned by connectors)."""
