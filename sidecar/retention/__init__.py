"""Retention policies, purge, export: keeping only what may be kept.

settings: the retention settings, read once; policy: which rule keeps an attempt how long;
selection: which attempts a purge or an export reaches, and the dry run; purge: batched,
resumable deletion; export: streamed ZIP; scheduler: the daily job; cli: the admins' commands
(Moodle reaches them through views/retention.py).
"""
