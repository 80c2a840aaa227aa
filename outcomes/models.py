"""Outcome data (follow-ups, responses, scores) lives here; the models arrive with the follow-up issue."""
