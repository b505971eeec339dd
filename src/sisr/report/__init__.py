"""Summaries into tables, the audit (findings and claims), figures, the leaderboard and HTML pages."""
