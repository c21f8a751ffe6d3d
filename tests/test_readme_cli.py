"""The README's command-line section works as written, in an empty folder, as a new user runs it.

Its shell blocks run in one bash process (so ``cd`` and ``export`` carry over), the TOML block
is added under ``[channel]`` of the campaign file where the README says, ``campaignkit sandbox``
runs in the background on a free port (the README's 8765 is replaced) and is stopped.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from campaignkit.sandbox import read_record

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
README_PORT = "8765"


def cli_section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return text.split("\n## Command line", 1)[1].split("\n## ", 1)[0]


def blocks(section: str) -> list[tuple[str, str]]:
    """(language, code) of every fenced block of ``section``, in order."""
    return [(m.group(1), m.group(2)) for m in re.finditer(r"```(\w+)\n(.*?)```", section, re.S)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


WAIT_FOR_PORT = """\
{python} - <<'EOF'
import socket, time
deadline = time.monotonic() + 30
while True:
    try:
        socket.create_connection(("127.0.0.1", {port}), timeout=1).close()
        break
    except OSError:
        if time.monotonic() > deadline:
            raise SystemExit("the sandbox did not listen within 30 s")
        time.sleep(0.1)
EOF
"""

ADD_TO_CHANNEL = """\
{python} - <<'EOF'
from pathlib import Path
path = Path("campaign.toml")
text = path.read_text()
assert "\\n[channel]\\n" in text, "campaign.toml has no [channel] table"
path.write_text(text.replace("\\n[channel]\\n", "\\n[channel]\\n" + {toml!r}, 1))
EOF
"""


def script(section: str, port: int) -> str:
    """The README's steps as one bash script; the sandbox is stopped however it ends."""
    lines = ["set -euo pipefail", "trap 'kill $(jobs -p) 2>/dev/null || true' EXIT"]
    for language, code in blocks(section):
        code = code.replace(README_PORT, str(port))
        if language == "toml":
            lines.append(ADD_TO_CHANNEL.format(python=sys.executable, toml=code))
            continue
        assert language == "bash", f"unexpected block language {language!r}"
        for line in code.splitlines():
            lines.append(line)
            if line.split("#")[0].rstrip().endswith("&"):
                lines.append(WAIT_FOR_PORT.format(python=sys.executable, port=port))
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> subprocess.CompletedProcess[str]:
    folder = tmp_path_factory.mktemp("readme-cli")
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "PYTHONUTF8": "1"}
    for name in ("SOCIOCS_API_KEY", "SOCIOCS_CHANNEL_KEY"):
        env.pop(name, None)  # the README's export lines must set them
    done = subprocess.run(["bash", "-c", script(cli_section(), free_port())], cwd=folder,
                          env=env, text=True, capture_output=True, timeout=240, check=False)
    done.folder = folder  # type: ignore[attr-defined]
    return done


def test_the_readme_cli_section_runs_as_written(run: subprocess.CompletedProcess[str]) -> None:
    """demo, init, the exports, preview, a dry run and a --live send to the sandbox succeed."""
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]


def test_init_writes_the_three_files_the_readme_names(
    run: subprocess.CompletedProcess[str],
) -> None:
    """init writes campaign.toml, recipients.csv and message.txt, as the README says."""
    written = re.findall(r"^wrote (\S+)$", run.stdout, re.M)
    assert [Path(p).name for p in written] == ["campaign.toml", "recipients.csv", "message.txt"]
    section = cli_section()
    assert all(name in section for name in ("campaign.toml", "recipients.csv", "message.txt"))


def test_the_live_send_reaches_the_loopback_sandbox(run: subprocess.CompletedProcess[str]) -> None:
    """The first --live run sends each row once (those asleep are deferred), the second sends
    nothing again; the sandbox's record holds each sent number once."""
    found = [re.fullmatch(r"results: <ResultsSummary clinic-reminders \(live\): (.*)>", line)
             for line in run.stdout.splitlines()]
    first, second = [dict(reversed(p.split(" ", 1)) for p in m[1].split(", "))
                     for m in found if m][:2]
    sent = int(first.get("sent", 0))
    assert sent + int(first.get("deferred", 0)) == 58
    assert int(second.get("already-sent", 0)) == sent
    accepted = read_record(run.folder / "my-campaign" / "sandbox.sqlite")  # type: ignore[attr-defined]
    assert (len(accepted), accepted["to"].is_unique) == (sent, True)


@pytest.mark.parametrize(
    ("command", "usage"),
    [
        ([str(BIN / "campaignkit"), "sandbox", "--help"], "usage: campaignkit sandbox "),
        ([sys.executable, "-m", "campaignkit.sandbox", "--help"],
         "usage: python -m campaignkit.sandbox "),
    ],
)
def test_the_sandbox_help_names_the_command_that_was_typed(command, usage) -> None:
    """`campaignkit sandbox --help` and `python -m campaignkit.sandbox --help` name themselves."""
    done = subprocess.run(command, text=True, capture_output=True, timeout=60, check=True)
    assert done.stdout.startswith(usage)
