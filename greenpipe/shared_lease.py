"""The lease on a shared location: one step at a time reads and writes the state shared between runs.

The lease is one object (`state/lease.json` under GREENPIPE_SHARED) naming its holder and when it expires. It
is created only if absent (S3 PutObject If-None-Match, a GCS generation precondition, a lock for a folder),
renewed by a background thread while the step runs, and taken over by another job only once expired, and then
only if unchanged since read. A job that stalls past its lease loses it; its snapshot write then fails (see
greenpipe.shared_state) rather than overwrite what the next holder wrote.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import Any

from greenpipe.errors import GreenpipeError
from greenpipe.object_store import ConditionFailed

WAIT_SECONDS_ENV = "GREENPIPE_SHARED_WAIT_S"  # how long a step waits for another job's lease (default 900)


class SharedStateBusy(GreenpipeError):
    """Another job held the shared state's lease for longer than this step would wait."""


class LeaseLost(GreenpipeError):
    """The lease expired and another job took it over."""


class Lease:
    """Exclusive use of the shared location by one step: an object created only if absent, renewed while held,
    taken over only once expired (and then only if unchanged since read)."""

    def __init__(self, objects: Any, key: str, owner: str, seconds: float, wait_s: float):
        self.objects, self.key, self.seconds, self.wait_s = objects, key, seconds, wait_s
        self.owner = f"{owner}/{uuid.uuid4().hex[:12]}"
        self.tag: str | None = None
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None
        self._guard = threading.Lock()

    def _body(self) -> bytes:
        return json.dumps({"owner": self.owner, "expires": time.time() + self.seconds}).encode()

    def acquire(self) -> None:
        deadline = time.monotonic() + self.wait_s
        while True:
            try:
                self.tag = self.objects.put_if(self.key, self._body(), None)
                break
            except ConditionFailed:
                pass
            held = self.objects.read(self.key)
            if held is None:
                continue  # released between the two calls
            holder = json.loads(held.data)
            if float(holder.get("expires", 0)) < time.time():
                try:
                    self.tag = self.objects.put_if(self.key, self._body(), held.tag)  # take over a dead job's
                    break
                except ConditionFailed:
                    continue
            if time.monotonic() > deadline:
                raise SharedStateBusy(
                    f"the shared state's lease {self.objects.uri(self.key)} is held by {holder.get('owner')} "
                    f"(until {time.strftime('%H:%M:%S', time.gmtime(float(holder.get('expires', 0))))} UTC, "
                    f"renewed while it runs); waited {self.wait_s:g} s ({WAIT_SECONDS_ENV}). If no job is "
                    "running, delete that object"
                )
            time.sleep(min(1.0, self.seconds / 4))
        self._renewer = threading.Thread(target=self._keep, name="greenpipe-lease", daemon=True)
        self._renewer.start()

    def _keep(self) -> None:
        while not self._stop.wait(self.seconds / 3):
            try:
                self.renew()
            except GreenpipeError:
                return  # lost: the conditional write of the snapshot will refuse, with the message

    def renew(self) -> None:
        with self._guard:
            try:
                self.tag = self.objects.put_if(self.key, self._body(), self.tag)
            except ConditionFailed:
                raise LeaseLost(
                    f"the shared state's lease {self.objects.uri(self.key)} was taken over by another job (it "
                    f"expired: this step was not heard from for {self.seconds:g} s)"
                ) from None

    def release(self) -> None:
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join()
        with self._guard:
            held = self.objects.read(self.key)
            if held is not None and held.tag == self.tag:  # ours still: another job's lease is never removed
                self.objects.delete(self.key)
