"""Face analysis: the job queue, reference photos, per-camshot verdicts and the identity step."""
