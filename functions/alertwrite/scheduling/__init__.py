"""Escalation, on-call schedules, heartbeats, retention and the one-minute scheduler."""
