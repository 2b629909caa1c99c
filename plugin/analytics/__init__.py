"""Decision log, escalation metrics, review sampling, reports and the dashboard."""
