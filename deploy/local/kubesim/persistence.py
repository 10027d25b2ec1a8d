"""The state file: the object store saved across restarts, the way etcd outlives an API server.

Writes are debounced (a burst of changes is saved once), atomic (a temporary file in the same
folder, fsynced, then renamed over the old one) and happen off the request path. On start the
file, if present, is loaded: objects and the resourceVersion counter come back, so clients'
objects keep their uids and versions (watch history does not: resuming an older watch gets 410).
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from pathlib import Path

from .resources import BY_PLURAL
from .store import Store, WatchEvent

FORMAT = "sprout-kubesim/v1"


class StateFileError(Exception):
    """The state file exists but cannot be read back."""


class StateFile:
    def __init__(
        self, path: Path, store: Store, debounce: float = 0.1, max_delay: float = 1.0
    ) -> None:
        self.path = path
        self.store = store
        self.debounce = debounce
        self.max_delay = max_delay
        self._dirty = threading.Event()
        self._stopped = threading.Event()
        self._write_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        store.add_listener(self._on_event)

    def _on_event(self, _event: WatchEvent) -> None:
        self._dirty.set()

    def load(self) -> bool:
        """Loads the file into the store; False when there is no file yet."""
        if not self.path.exists():
            return False
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if data.get("format") != FORMAT:
                raise StateFileError(f"{self.path}: not a kubesim state file")
            objects = [
                (BY_PLURAL[plural], obj)
                for plural, items in data["objects"].items()
                for obj in items
            ]
            self.store.load(int(data["resourceVersion"]), objects)
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise StateFileError(f"{self.path}: cannot load state: {error}") from error
        self._dirty.clear()
        return True

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="kubesim-state-file", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._dirty.set()
        if self._thread:
            self._thread.join(timeout=10)
        self.save()

    def _run(self) -> None:
        while not self._stopped.is_set():
            self._dirty.wait()
            if self._stopped.is_set():
                return
            # Coalesce a burst of writes, but save at least every max_delay seconds.
            waited = 0.0
            while waited < self.max_delay:
                self._dirty.clear()
                if self._stopped.wait(self.debounce) or not self._dirty.is_set():
                    break
                waited += self.debounce
            self.save()

    def save(self) -> str:
        """Writes the current store atomically; returns the file path."""
        self._dirty.clear()
        with self._write_lock:
            resource_version, snapshots = self.store.dump()
            parts = [f'{{"format":"{FORMAT}","resourceVersion":{resource_version},"objects":{{']
            parts.append(
                ",".join(
                    f'"{plural}":[' + ",".join(s.body_json() for s in items) + "]"
                    for plural, items in sorted(snapshots.items())
                )
            )
            parts.append("}}\n")
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
            try:
                with os.fdopen(handle, "w", encoding="utf-8") as stream:
                    stream.write("".join(parts))
                    stream.flush()
                    os.fsync(stream.fileno())
                os.replace(temporary, self.path)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
        return str(self.path)
