"""``python -m campaignkit.sandbox`` (and ``campaignkit sandbox``): serve in the foreground."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from .._errors import CampaignError
from ._asgi import run_forever
from ._faults import Faults
from ._handler import Sandbox
from ._story import Story

__all__ = ["build_parser", "main"]

_PROBABILITIES = ("p_429", "p_drop_before", "p_500_before", "p_drop_after", "p_500_after",
                  "p_stall")


def build_parser(prog: str = "python -m campaignkit.sandbox") -> argparse.ArgumentParser:
    """The sandbox's options (the CLI's ``sandbox`` command can reuse them)."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Serve a local emulator of the Sociocs, TextUs and Bird APIs on loopback.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="loopback address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (0: any free port)")
    parser.add_argument("--seed", type=int, default=0, help="seed of faults and ids")
    parser.add_argument("--record", default=None, help="SQLite file recording accepted messages")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to each request")
    parser.add_argument("--story", action="store_true",
                        help="play the rest of the story: delivery states over virtual time, "
                             "failures, replies and STOPs (POST /_sandbox/advance moves time)")
    faults = parser.add_argument_group("faults")
    faults.add_argument("--faults", type=float, default=None, metavar="RATE",
                        help="spread RATE evenly over the six random faults")
    faults.add_argument("--rate-limit", type=int, default=None, metavar="N",
                        help="at most N requests per account per window, then 429")
    faults.add_argument("--rate-window", type=float, default=1.0, metavar="SECONDS")
    faults.add_argument("--retry-after", type=int, default=1, metavar="SECONDS",
                        help="Retry-After of the random 429s")
    faults.add_argument("--retry-after-http-date", action="store_true",
                        help="send Retry-After as an HTTP-date")
    for name in _PROBABILITIES:
        faults.add_argument("--" + name.replace("_", "-"), type=float, default=0.0, metavar="P")
    faults.add_argument("--stall-seconds", type=float, default=60.0, metavar="SECONDS")
    faults.add_argument("--list-lag", type=float, default=0.0, metavar="SECONDS",
                        help="seconds before an accepted message shows in lists and lookups")
    return parser


def sandbox_from_args(args: argparse.Namespace) -> Sandbox:
    """The `Sandbox` the parsed options describe (raises ValueError on bad values)."""
    options = {
        "rate_limit": args.rate_limit,
        "rate_window": args.rate_window,
        "retry_after": args.retry_after,
        "retry_after_http_date": args.retry_after_http_date,
        "stall_seconds": args.stall_seconds,
        "list_lag": args.list_lag,
    }
    if args.faults is not None:
        faults = Faults.mixed(args.faults, **options)
    else:
        faults = Faults(**options, **{name: getattr(args, name) for name in _PROBABILITIES})
    return Sandbox(seed=args.seed, faults=faults, latency=args.latency, record=args.record,
                   story=Story() if args.story else None)


def main(argv: Sequence[str] | None = None, *, prog: str | None = None) -> int:
    """Run the sandbox in the foreground until Ctrl+C; returns the exit status.

    ``prog`` names the command in help and errors; by default the one that was typed:
    ``python -m campaignkit.sandbox`` or ``campaignkit sandbox``.
    """
    if prog is None:
        typed_as_module = Path(sys.argv[0]).name == "__main__.py"
        prog = "python -m campaignkit.sandbox" if typed_as_module else "campaignkit sandbox"
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    try:
        sandbox = sandbox_from_args(args)
    except ValueError as exc:
        parser.error(str(exc))
    try:
        with sandbox:
            print(f"{sandbox!r}", file=sys.stderr)
            run_forever(sandbox, args.host, args.port)
    except CampaignError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
