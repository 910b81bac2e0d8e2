"""Retention policies, purge, export: keeping only what may be kept.

policy: which rule keeps an attempt how long; selection: which attempts a purge or an
export reaches, and the dry run; purge: batched, resumable deletion; export: streamed ZIP;
scheduler: the daily job; api and cli: how Moodle and admins reach them.
"""
