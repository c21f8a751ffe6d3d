"""The ``campaignkit`` command: demo, init, preview, send, sandbox.

Safe by default (mailmerge): ``send`` is a dry run through the embedded sandbox unless
``--live`` is given, and every run ends by saying what it did *not* do. The exit status is
0 when every row ended well, 1 when any row failed or is unknown, 2 on an error that
stopped the run (the message says how to fix it).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from ._errors import CampaignError
from .campaign_file import Campaign, load_campaign
from .channels import Channel, Sociocs
from .message import Message
from .preview import preview
from .problems import problems_table
from .recipients import load_recipients, load_summary
from .results import results_summary, save_results
from .samples import sample_path
from .sending import send
from .templating import render

__all__ = ["main"]

_BAD_STATUSES = ("failed", "unknown")


def _say(text: str = "") -> None:
    print(text, flush=True)


def _report_load(recipients: pd.DataFrame) -> None:
    _say(f"loaded: {load_summary(recipients)!r}")
    table = problems_table(recipients)
    for line in table["problem"].head(8):
        _say(f"  {line}")
    if len(table) > 8:
        _say(f"  ... and {len(table) - 8} more problems")


def _report_render(rendered: pd.DataFrame) -> None:
    ok = rendered["problems"].map(len) == 0
    counts = rendered.loc[ok, "encoding"].value_counts().to_dict()
    encodings = ", ".join(f"{n} {enc}" for enc, n in sorted(counts.items()))
    _say(
        f"rendered: {int(ok.sum())} sendable rows ({encodings or 'none'}), "
        f"{int(rendered.loc[ok, 'segments'].sum())} SMS segments in all"
    )


def _report_results(results: pd.DataFrame, path: Path, live: bool, hint: str) -> int:
    _say(f"results: {results_summary(results)!r}")
    _say(f"results written to {path}")
    status = results["status"]
    if not live:
        _say("not done: this was a dry run through the sandbox; nothing was sent to a provider.")
        _say(f"          {hint}")
    waiting = int((status == "waiting").sum())
    if waiting:
        _say(f"not done: {waiting} rows are waiting; run the same command again to send them "
             "(rows already sent are never sent twice)")
    bad = status.isin(_BAD_STATUSES)
    return 1 if bad.any() else 0


def _run(
    recipients: pd.DataFrame,
    message: Message,
    channel: Channel,
    *,
    campaign: str,
    live: bool,
    limit: int | None,
    rate: float,
    concurrency: int,
    results_path: Path,
    journal: Path | None,
    key: str | None = None,
    bulk: bool = False,
    hint: str = "send for real with: campaignkit send CAMPAIGN.toml --live",
) -> int:
    _report_load(recipients)
    rendered = render(recipients, message)
    _report_render(rendered)
    results_path.parent.mkdir(parents=True, exist_ok=True)
    results = send(
        rendered,
        channel,
        campaign=campaign,
        live=live,
        limit=limit,
        rate=rate,
        concurrency=concurrency,
        journal=journal if journal is not None else results_path.with_suffix(".journal.db"),
        key=key,
        bulk=bulk,
    )
    save_results(results, results_path)
    return _report_results(results, results_path, live, hint)


def _demo(args: argparse.Namespace) -> int:
    _say("campaignkit demo: the sample clinic campaign, end to end, against the embedded sandbox")
    recipients = load_recipients(sample_path("recipients.xlsx"), default_region="US")
    message = Message(text=sample_path("message.txt").read_text(encoding="utf-8"))
    # Demo credentials: the embedded sandbox accepts any well-formed key; nothing leaves.
    channel = Sociocs("demo:sandbox-key", "twlo_16175550100", provider="twlo")
    out = Path(args.out)
    return _run(
        recipients,
        message,
        channel,
        campaign="demo",
        live=False,
        limit=None,
        rate=args.rate,
        concurrency=4,
        results_path=out / "demo-results.xlsx",
        journal=out / "demo.journal.db",
        hint="your own campaign: campaignkit init my-campaign, edit it, then "
             "campaignkit send my-campaign/campaign.toml",
    )


def _init(args: argparse.Namespace) -> int:
    target = Path(args.directory)
    files = {name: sample_path(name) for name in ("campaign.toml", "recipients.csv",
                                                  "message.txt")}
    existing = [name for name in files if (target / name).exists()]
    if existing:
        raise CampaignError(
            f"{target}: {', '.join(existing)} already exist; campaignkit init never overwrites. "
            "Choose an empty folder: campaignkit init FOLDER"
        )
    target.mkdir(parents=True, exist_ok=True)
    for name, source in files.items():
        shutil.copyfile(source, target / name)
        _say(f"wrote {target / name}")
    _say(f"next: campaignkit preview {target / 'campaign.toml'}")
    return 0


def _preview(args: argparse.Namespace) -> int:
    campaign = load_campaign(args.campaign)
    recipients = campaign.load()
    _report_load(recipients)
    rendered = render(recipients, campaign.message)
    _report_render(rendered)
    requests = preview(rendered, campaign.channel())
    for label, row in requests.head(args.rows).iterrows():
        _say(f"\nrow {label} → {row['method'] or '(no request)'} {row['url'] or ''}")
        if row["method"] is None:
            for problem in row["problems"]:
                _say(f"  {problem}")
            continue
        _say("  headers: " + json.dumps(row["headers"], ensure_ascii=False))
        _say("  body:    " + json.dumps(row["body"], ensure_ascii=False))
    _say("\nnot done: preview sends nothing. Dry run: campaignkit send CAMPAIGN.toml")
    return 0


def _send(args: argparse.Namespace) -> int:
    campaign: Campaign = load_campaign(args.campaign)
    options = campaign.send
    results = Path(args.results) if args.results else campaign.resolve(options.results)
    journal = campaign.resolve(options.journal) if options.journal else None
    if args.live:
        _say(f"LIVE: sending campaign {options.campaign!r} for real")
    return _run(
        campaign.load(),
        campaign.message,
        campaign.channel(),
        campaign=options.campaign,
        live=args.live,
        limit=args.limit if args.limit is not None else options.limit,
        rate=args.rate if args.rate is not None else options.rate,
        concurrency=options.concurrency,
        results_path=results,
        journal=journal,
        key=options.key,
        bulk=options.bulk,
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="campaignkit",
        description="Run SMS and WhatsApp campaigns from a spreadsheet. Dry run by default.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser("demo", help="run the sample campaign against the embedded sandbox")
    demo.add_argument("--out", default="out", help="folder for the results sheet (default out)")
    demo.add_argument("--rate", type=float, default=50.0, help="messages per second")
    demo.set_defaults(run=_demo)

    init = sub.add_parser("init", help="write a sample campaign file and sheet (never overwrites)")
    init.add_argument("directory", nargs="?", default=".")
    init.set_defaults(run=_init)

    prev = sub.add_parser("preview", help="show the exact request per row; sends nothing")
    prev.add_argument("campaign", help="the campaign TOML file")
    prev.add_argument("--rows", type=int, default=3, help="how many rows to show")
    prev.set_defaults(run=_preview)

    snd = sub.add_parser("send", help="send a campaign (a dry run unless --live)")
    snd.add_argument("campaign", help="the campaign TOML file")
    snd.add_argument("--live", action="store_true", help="really send (default: dry run)")
    snd.add_argument("--limit", type=int, default=None, help="send only the first N rows")
    snd.add_argument("--rate", type=float, default=None, help="messages per second")
    snd.add_argument("--results", default=None, help="results sheet (.xlsx or .csv)")
    snd.set_defaults(run=_send)

    sub.add_parser("sandbox", help="serve the provider emulator on 127.0.0.1 (see --help)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``campaignkit`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["sandbox"]:
        from .sandbox._cli import main as sandbox_main

        return sandbox_main(argv[1:])
    args = _parser().parse_args(argv)
    try:
        return int(args.run(args))
    except CampaignError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: every row's state is in the journal; run the same command "
              "again to resume (already-sent rows are never sent twice)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
