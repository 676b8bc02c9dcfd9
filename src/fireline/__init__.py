"""Fireline: incident-response automation with a PagerDuty-compatible incidents platform."""

__version__ = "0.1.0"
