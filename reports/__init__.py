"""Policy-decision reports (built in a later issue)."""
