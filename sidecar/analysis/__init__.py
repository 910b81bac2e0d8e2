"""Face analysis: the job queue, reference photos and per-camshot verdicts."""
