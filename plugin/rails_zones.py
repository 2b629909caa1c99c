"""Zendesk's (Rails) time-zone names -> IANA names, for ``tiergate import-sla``."""

RAILS_ZONES = {
    "UTC": "UTC", "London": "Europe/London", "Edinburgh": "Europe/London", "Dublin": "Europe/Dublin",
    "Lisbon": "Europe/Lisbon", "Paris": "Europe/Paris", "Berlin": "Europe/Berlin", "Amsterdam": "Europe/Amsterdam",
    "Brussels": "Europe/Brussels", "Madrid": "Europe/Madrid", "Rome": "Europe/Rome", "Vienna": "Europe/Vienna",
    "Stockholm": "Europe/Stockholm", "Copenhagen": "Europe/Copenhagen", "Warsaw": "Europe/Warsaw",
    "Prague": "Europe/Prague", "Athens": "Europe/Athens", "Helsinki": "Europe/Helsinki",
    "Istanbul": "Europe/Istanbul", "Moscow": "Europe/Moscow", "Bern": "Europe/Zurich", "Zurich": "Europe/Zurich",
    "Eastern Time (US & Canada)": "America/New_York", "Central Time (US & Canada)": "America/Chicago",
    "Mountain Time (US & Canada)": "America/Denver", "Pacific Time (US & Canada)": "America/Los_Angeles",
    "Arizona": "America/Phoenix", "Alaska": "America/Juneau", "Hawaii": "Pacific/Honolulu",
    "Brasilia": "America/Sao_Paulo", "Buenos Aires": "America/Argentina/Buenos_Aires",
    "Mexico City": "America/Mexico_City", "Bogota": "America/Bogota", "Tokyo": "Asia/Tokyo",
    "Seoul": "Asia/Seoul", "Beijing": "Asia/Shanghai", "Hong Kong": "Asia/Hong_Kong",
    "Singapore": "Asia/Singapore", "Mumbai": "Asia/Kolkata", "New Delhi": "Asia/Kolkata",
    "Kolkata": "Asia/Kolkata", "Dubai": "Asia/Dubai", "Abu Dhabi": "Asia/Dubai", "Jerusalem": "Asia/Jerusalem",
    "Sydney": "Australia/Sydney", "Melbourne": "Australia/Melbourne", "Brisbane": "Australia/Brisbane",
    "Perth": "Australia/Perth", "Auckland": "Pacific/Auckland", "Johannesburg": "Africa/Johannesburg",
    "Cairo": "Africa/Cairo", "Nairobi": "Africa/Nairobi", "Lagos": "Africa/Lagos",
}
