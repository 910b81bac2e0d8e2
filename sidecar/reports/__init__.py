"""Scores and reports: what a teacher reads about an attempt."""
