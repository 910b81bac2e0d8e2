"""Retention policies, purge, export: keeping only what may be kept."""
