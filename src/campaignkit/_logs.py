"""Log records of campaignkit and of the libraries it drives reach only configured logging.

Python prints a WARNING of a logger that has no handler to stderr (``logging.lastResort``):
stamina's ``stamina.retry_scheduled`` on every retry, uvicorn's warnings from a sandbox
served in a notebook. A NullHandler on each top-level logger stops that and nothing else: an
application that configures logging (``logging.basicConfig()``, a notebook's own setup) still
gets every record, since records propagate to its handlers as before
(https://docs.python.org/3/howto/logging.html#configuring-logging-for-a-library).
"""

from __future__ import annotations

import logging

__all__ = ["QUIET_LOGGERS"]

#: the loggers whose records stay out of a terminal or notebook that configured no logging
QUIET_LOGGERS = ("campaignkit", "stamina", "uvicorn")

for _name in QUIET_LOGGERS:
    _logger = logging.getLogger(_name)
    if not any(isinstance(h, logging.NullHandler) for h in _logger.handlers):
        _logger.addHandler(logging.NullHandler())
