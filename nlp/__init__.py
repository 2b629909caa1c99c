"""Enrichment: the spaCy pipeline built from the manifest, sentiment, risk tags, attention score."""
