"""``python -m campaignkit.sandbox --port 8000``: see `campaignkit.sandbox.main`."""

from __future__ import annotations

import sys

from ._cli import main

if __name__ == "__main__":
    sys.exit(main())
