"""The retention settings, read once from the configuration and handed to what keeps or deletes data."""
from dataclasses import dataclass


@dataclass(frozen=True)
class RetentionSettings:
    """retention.* of the configuration; config.example.toml says what each one does."""

    default_days: int
    batch_size: int
    pause_ratio: float
    audit_days: int
    run_at: str


def retention_settings(config):
    """The RetentionSettings of a Config."""
    return RetentionSettings(
        default_days=config["retention.default_days"],
        batch_size=config["retention.batch_size"],
        pause_ratio=config["retention.pause_ratio"],
        audit_days=config["retention.audit_days"],
        run_at=config["retention.run_at"],
    )
