"""Helpdesk connectors behind one Protocol (``base.Connector``) and their local compatible servers."""
