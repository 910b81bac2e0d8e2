"""Where the sidecar keeps things: the data directory's layout, the ids and keys it chooses, and the
image store that holds camshots and reference photos.

The data dir holds the SQLite database proctorpy.db (with its WAL files), the shared secret in
secret, and gunicorn's pid file. Images are named by keys the sidecar builds:
images/<course>/<quiz>/<attempt>/<camshot id>.png and references/<user>/<id>.png, stored in
the row's `path` column. Every key is built from integers and ids the sidecar generated, never
from client text.

The image store is one of two, chosen by storage.backend, with the same methods:
- folder (folder.FolderStore): the keys as files under the data dir, written durably;
- s3 (s3.S3Store): the keys as objects in an S3-compatible bucket, shared by every node.

    put(key, data)        store; durable when it returns
    get(key) -> bytes     FileNotFoundError when the image is gone, as for a file
    open(key)             a binary file object to read in chunks (exports), FileNotFoundError likewise
    delete(key)           an image already gone is not an error
    delete_many(keys)     the same, for a purge batch
    discard(key)          delete after a failed row commit: logs instead of raising if the store fails
    exists(key)           whether the image is there
    scan(tops)            (key, modified unix time) of every stored image under these top folders, in the
                          order of the keys (as Python sorts str), streamed: repair() walks it beside the rows
    sweep_temporary(tops, before)  remove what writes interrupted before then left (folder only); a count
    tidy(folder)          remove a folder left empty (folder only)
    check_free_space(n)   refuse new images below n free bytes (folder only: a bucket has no disk)
    probe()               write, read and delete a probe image; a sentence saying so
    local                 True when the images are on this machine's disk

A store that cannot be reached raises errors.ImageStoreUnavailable (503), never a bare error.
"""
from .folder import FolderStore, check_free_space, write_durably  # noqa: F401
from .layout import (  # noqa: F401
    DATABASE_FILE, ID_PATTERN, IMAGES, PID_FILE, REFERENCES, SECRET_FILE, attempt_folder, camshot_path,
    database_files, database_path, new_id, pid_path, reference_folder, reference_path, secret_path,
)
from .repair import ORPHAN_GRACE_SECONDS, repair  # noqa: F401
from .s3 import S3Store


def image_store(config):
    """The image store storage.backend names, set up from config (no connection is made yet)."""
    if config["storage.backend"] == "s3":
        return S3Store.from_config(config)
    return FolderStore(config.data_dir, fsync=config["storage.fsync"])
