"""Keeping the long-lived heap out of the cyclic GC's sight while a burst of work runs.

While the console works, the heap is mostly botocore's service models (~70k OrderedDicts)
and Textual's classes and widgets, none of it garbage. A burst (a log tail, a thousand
describes) makes full (generation 2) collections every few hundred ms, and each walked all
of that holding the GIL: 100-250 ms in which neither the event loop nor the worker ran.
Frozen, a full collection walks only what came after. Frozen objects are never collected
as cycles, so the last holder to let go unfreezes everything: nothing is kept for good.
"""

from __future__ import annotations

import gc
import threading

_lock = threading.Lock()
_holders: set[int] = set()


class FreezeHold:
    """One holder: freezes what is alive when `hold` is called, until `release`."""

    def __init__(self) -> None:
        self.released = False

    def hold(self) -> None:
        """Freeze what is alive now; again later to take in what has been built since
        (a botocore client made by the first call). Never after `release`."""
        with _lock:
            if self.released:
                return  # its owner closed meanwhile (a tail thread's late first batch)
            gc.collect(1)  # the young garbage, cheaply; what is left is (nearly all) long-lived
            gc.freeze()
            _holders.add(id(self))

    def release(self) -> None:
        with _lock:
            self.released = True
            _holders.discard(id(self))
            if not _holders:
                gc.unfreeze()
