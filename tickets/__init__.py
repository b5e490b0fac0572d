"""Ticket history: import, demand coverage and routing suggestions (issue 13)."""
