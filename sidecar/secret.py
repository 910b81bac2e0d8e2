"""The shared secret: chosen by PROCTORPY_SECRET, the config, or generated once and stored."""
import os
import secrets
from pathlib import Path

from . import storage
from .config import ConfigError

MIN_LENGTH = 16  # shorter secrets are guessable offline from one signed request


def load_secret(config, environ=None):
    """The secret in force, and where it came from."""
    environ = os.environ if environ is None else environ
    for value, origin in ((environ.get("PROCTORPY_SECRET"), "PROCTORPY_SECRET"),
                          (config["security.secret"], "security.secret")):
        if value:
            if len(value) < MIN_LENGTH:
                raise ConfigError(f"{origin}: the shared secret must be at least {MIN_LENGTH} characters")
            return value, origin
    path = storage.secret_path(config.data_dir)
    if path.exists():
        return path.read_text().strip(), str(path)
    raise ConfigError(f"no shared secret: set PROCTORPY_SECRET or run `proctorpy init` to create {path}")


def create_secret(config, rotate=False):
    """Generate and store a secret unless one is stored already (or rotate is asked)."""
    path = storage.secret_path(config.data_dir)
    if path.exists() and not rotate:
        return path.read_text().strip(), False
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(32)
    temp = Path(str(path) + ".new")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")
    os.replace(temp, path)
    return value, True
