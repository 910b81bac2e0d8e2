"""The folder image store: each image a file under the data dir, written durably."""
import contextlib
import os
import secrets
import shutil
from pathlib import Path

from ..errors import InsufficientStorage

TEMP_SUFFIX = ".tmp"
CHUNK = 64 * 1024


def write_durably(data_dir, relative, data, fsync=True):
    """Write to a temporary name, fsync, rename into place, fsync the folder.

    After this returns the file survives a crash; before it, only a temp file can be
    left behind, which repair() removes.
    """
    target = Path(data_dir) / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name("." + target.name + "." + secrets.token_hex(4) + TEMP_SUFFIX)
    try:
        with open(temp, "xb") as f:
            f.write(data)
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(temp, target)
    except BaseException:
        # A full or read-only disk: leave no half-written file behind for repair() to find.
        with contextlib.suppress(OSError):
            temp.unlink(missing_ok=True)
        raise
    if fsync:
        folder = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


def check_free_space(data_dir, min_free_bytes):
    """Refuse new data rather than fill the disk."""
    free = shutil.disk_usage(data_dir).free
    if free < min_free_bytes:
        raise InsufficientStorage(
            f"The sidecar's disk has {free // (1024 * 1024)} MiB free, under the configured floor of "
            f"{min_free_bytes // (1024 * 1024)} MiB; new camshots are refused until space is freed "
            "(purge old data or raise the disk's size)."
        )
    return free


def remove_quietly(data_dir, relative):
    """Delete a stored file; a file already gone is not an error. Return the bytes freed."""
    path = Path(data_dir) / relative
    try:
        size = path.stat().st_size
        path.unlink()
        return size
    except FileNotFoundError:
        return 0


def _modified(path):
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return float("inf")  # gone already: nothing to remove


class FolderStore:
    """Images as files under root (the data dir), at their keys."""

    name = "folder"
    local = True

    def __init__(self, root, fsync=True):
        self.root = Path(root)
        self.fsync = fsync

    def __repr__(self):
        return f"FolderStore({str(self.root)!r})"

    def describe(self):
        return f"folder {self.root}"

    def path(self, key):
        return self.root / key

    def put(self, key, data):
        write_durably(self.root, key, data, fsync=self.fsync)

    def get(self, key):
        return (self.root / key).read_bytes()

    def open(self, key):
        return open(self.root / key, "rb")

    def delete(self, key):
        remove_quietly(self.root, key)

    def delete_many(self, keys):
        # Plain os calls: at a hundred thousand files, pathlib's parsing costs more than the unlink.
        root = os.fspath(self.root)
        for key in keys:
            try:
                os.unlink(os.path.join(root, key))
            except FileNotFoundError:
                pass

    def discard(self, key):
        remove_quietly(self.root, key)

    def scan(self, tops):
        for top in sorted(tops):
            yield from self._scan_folder(self.root / top)

    def _scan_folder(self, folder):
        """The files under folder in the order of their keys: a folder's entries sorted with a folder's name
        followed by "/", which is how its files' keys compare with its neighbours'."""
        try:
            entries = list(os.scandir(folder))
        except FileNotFoundError:
            return
        for entry in sorted(entries, key=lambda e: e.name + "/" if e.is_dir(follow_symlinks=False) else e.name):
            if entry.is_dir(follow_symlinks=False):
                yield from self._scan_folder(entry.path)
            elif not entry.name.endswith(TEMP_SUFFIX):
                try:
                    modified = entry.stat().st_mtime
                except FileNotFoundError:
                    continue
                yield Path(entry.path).relative_to(self.root).as_posix(), modified

    def exists(self, key):
        return self.path(key).is_file()

    def sweep_temporary(self, tops, before):
        removed = 0
        for top in tops:
            for folder, _, files in os.walk(self.root / top):
                for name in files:
                    path = Path(folder) / name
                    if name.endswith(TEMP_SUFFIX) and _modified(path) <= before:
                        path.unlink(missing_ok=True)
                        removed += 1
        return removed

    def tidy(self, folder):
        try:
            (self.root / folder).rmdir()
        except OSError:
            pass

    def check_free_space(self, min_free_bytes):
        return check_free_space(self.root, min_free_bytes)

    def probe(self):
        key = f".probe-{secrets.token_hex(4)}.png"
        self.put(key, b"probe")
        try:
            if self.get(key) != b"probe":
                raise OSError(f"{self.root}: a probe file read back differs from what was written")
        finally:
            self.delete(key)
        return f"folder {self.root}: writable"
