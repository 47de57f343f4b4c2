"""Operator workflows: ack, unack, resolve, unresolve, silence, bulk, manual alerts, silences,
action links and the audit trail. Written once here; the API, the CLI and serve call this code."""
