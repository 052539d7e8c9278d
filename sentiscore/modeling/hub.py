"""Is the Hugging Face Hub reachable? Asked once per process, answered within a few seconds,
so that ``train`` and ``export`` use local files and the cache at once when offline instead of
retrying the hub for half a minute before failing.

Only hub ids go through here; local directories and files never touch the network. What to do
without the hub (which error to raise) is the calling stage's business.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
from urllib.parse import urlparse

log = logging.getLogger(__name__)

OFFLINE_VARS = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE")
PROBE_TIMEOUT_S = 3.0
# Module attributes that huggingface_hub, datasets and transformers read their offline mode
# from after import (the environment variables are read only at import).
_OFFLINE_FLAGS = (
    ("huggingface_hub.constants", "HF_HUB_OFFLINE"),
    ("datasets.config", "HF_HUB_OFFLINE"),
    ("datasets.config", "HF_DATASETS_OFFLINE"),
    ("transformers.utils.hub", "_is_offline_mode"),
)


@functools.lru_cache(maxsize=1)
def offline_reason() -> str | None:
    """None when the hub answers; else why not ('HF_HUB_OFFLINE is set', 'no answer ...')."""
    for var in OFFLINE_VARS:
        if os.environ.get(var, "").strip().upper() in ("1", "ON", "YES", "TRUE"):
            return f"{var} is set"
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    try:
        import requests  # a dependency of huggingface_hub; honours the proxy variables

        requests.head(endpoint, timeout=PROBE_TIMEOUT_S, allow_redirects=False)
    except Exception as exc:  # noqa: BLE001 - any failure means: not reachable
        host = urlparse(endpoint).netloc or endpoint
        return f"no answer from {host}: {type(exc).__name__}"
    return None


def offline_mode() -> str | None:
    """Probe the hub; when it is unreachable, switch the HF libraries to offline mode (local
    cache only, no retries), log it once, and return why. None when online."""
    why = offline_reason()
    if why is None:
        return None
    if os.environ.get("HF_HUB_OFFLINE") != "1":
        log.warning("Hugging Face Hub not reachable (%s): using local files and the cache", why)
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["HF_DATASETS_OFFLINE"] = "1"
    for module, attr in _OFFLINE_FLAGS:
        if module in sys.modules and hasattr(sys.modules[module], attr):
            setattr(sys.modules[module], attr, True)
    return why
