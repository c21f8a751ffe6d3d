"""Library log lines (stamina's retries, uvicorn's warnings) stay out of sight unless asked for.

Python prints a WARNING of a logger without handlers to stderr (``logging.lastResort``); a
library is to add a NullHandler so that only an application that configures logging sees its
records (https://docs.python.org/3/howto/logging.html#configuring-logging-for-a-library).
Each case runs in a fresh interpreter, as a user's script would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

_RETRIES = """
import json, logging, sys
import pandas as pd
import stamina
from campaignkit import Guardrails, Sociocs, load_recipients, render, send
from campaignkit.sandbox import Faults, Sandbox

if sys.argv[1] == "configured":
    logging.basicConfig(level=logging.WARNING)
stamina.set_testing(True, attempts=5)  # no waiting between attempts
sheet = pd.DataFrame({"phone": [f"+1617555{i:04d}" for i in range(6)]})
rendered = render(load_recipients(sheet), "Hi")
box = Sandbox(seed=3, faults=Faults(p_429=0.5, retry_after=0))
results = send(rendered, Sociocs("id:secret", "twlo_16175550100", "twlo"), campaign="logs",
               live=True, transport=box.transport(), progress=False, ledger=sys.argv[2],
               guardrails=Guardrails(quiet_hours=None, provider_opt_outs=False))
print(json.dumps({"attempts": results["attempts"].tolist(),
                  "status": results["status"].tolist()}))
"""


def _run(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", script, *args], text=True, capture_output=True,
                          timeout=120, check=False, env={**os.environ, "PYTHONUTF8": "1"})


@pytest.mark.parametrize(("mode", "shown"), [("default", ""), ("configured", "4 retries")])
def test_retry_log_lines_show_only_once_logging_is_configured(tmp_path, mode, shown):
    """Four retries against a 429-ing sandbox print nothing, unless logging is configured."""
    done = _run(_RETRIES, mode, str(tmp_path / "ledger.db"))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"attempts": [3, 1, 2, 2, 1, 1], "status": ["sent"] * 6}
    # Configured, campaignkit's own warning shows too (quiet hours are off in this script).
    expected = ("WARNING:campaignkit.sending:quiet hours are off: messages may reach people at "
                "night (Guardrails(quiet_hours=None))\n"
                + "WARNING:stamina:stamina.retry_scheduled\n" * 4) if shown else ""
    assert done.stderr == expected


_SERVED = """
import socket
from campaignkit.sandbox import Sandbox, serve

with Sandbox() as box, serve(box) as base_url:
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(b"NOT HTTP AT ALL\\r\\n\\r\\n")  # uvicorn warns "Invalid HTTP request"
        print(sock.recv(100).split(b"\\r\\n")[0].decode())
"""


def test_the_sandbox_served_in_a_users_process_prints_no_server_log():
    """serve() in a script or notebook leaves logging alone: uvicorn's warnings stay quiet."""
    done = _run(_SERVED)
    assert (done.returncode, done.stdout, done.stderr) == (0, "HTTP/1.1 400 Bad Request\n", "")
