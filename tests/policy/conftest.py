"""Policy tests never reach the network: litellm (imported by the catalog for its bundled price
map) must not try to refresh that map."""

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
