"""Ticketing connectors: push triage results and defect alerts into the systems agents work in."""
