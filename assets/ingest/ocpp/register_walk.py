"""Rule 5 of ``reading_rules`` (rollbacks and resets) as a numba kernel over readings sorted by register order.

The walk is sequential per transaction (the running maximum of a segment depends on every earlier
decision), so it runs compiled over flat arrays, the way the tariff and consumption kernels do.
"""

from __future__ import annotations

import numpy as np
from numba import njit

KEEP, ROLLED_BACK, RESET = 0, 1, 2


@njit(cache=True)
def register_walk(starts: np.ndarray, values: np.ndarray, is_new: np.ndarray, old_reset: np.ndarray,
                  tolerance: float) -> np.ndarray:
    """KEEP / ROLLED_BACK / RESET per reading; ``starts``: first index of each transaction plus the end.

    Readings of a transaction are in register order; old ones (earlier landing dates) are replayed: they
    set the running maximum (a new segment where ``old_reset``) and are never decided again. A new reading
    below the running maximum (less ``tolerance``) is ROLLED_BACK when any later reading returns to it,
    otherwise it is a RESET that starts a new segment.
    """
    outcome = np.zeros(values.shape[0], dtype=np.int8)
    later_max = np.empty(values.shape[0], dtype=np.float64)
    for group in range(starts.shape[0] - 1):
        first, end = starts[group], starts[group + 1]
        running = -np.inf
        for index in range(end - 1, first - 1, -1):
            later_max[index] = running
            if values[index] > running:
                running = values[index]
        segment_max = 0.0
        have_max = False
        for index in range(first, end):
            value = values[index]
            if not is_new[index]:
                if old_reset[index] or not have_max:
                    segment_max = value
                elif value > segment_max:
                    segment_max = value
                have_max = True
                continue
            if not have_max or value >= segment_max - tolerance:
                if not have_max or value > segment_max:
                    segment_max = value
                have_max = True
                continue
            if later_max[index] >= segment_max - tolerance:
                outcome[index] = ROLLED_BACK
            else:
                outcome[index] = RESET
                segment_max = value
    return outcome
