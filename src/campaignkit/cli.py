"""The ``campaignkit`` command: demo, init, preview, send, refresh, replies, report, ledger,
listen, sandbox.

Safe by default (mailmerge): ``send`` is a dry run through the embedded sandbox unless
``--live`` is given; a live send shows what it will do (messages, segments, cost, host and
what the guardrails hold back) and asks for the count to be typed back, or needs ``--yes``
where no one is at a terminal. Every run ends by saying what it did *not* do. The exit
status is 0 when every row ended well, 1 when any row failed or is unknown, 2 on an error
that stopped the run (the message says how to fix it), 143 when a signal stopped it.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from ._errors import CampaignError, DataError, SendError
from .campaign_file import Campaign, load_campaign
from .channels import Channel, Sociocs
from .channels._secrets import insecure_warning
from .guardrails import Guardrails
from .ledger import Ledger, locate_ledger, sandbox_ledger_path
from .message import Message
from .plan import plan
from .preview import preview
from .problems import problems_table
from .recipients import load_recipients, load_summary
from .results import results_summary, save_results
from .samples import SAMPLE_COUNTRIES, sample_path
from .sending import Pacing, is_sandbox, send
from .templating import render

__all__ = ["main"]

_BAD_STATUSES = ("failed", "unknown")
_DONE_STATUSES = ("sent", "already-sent", "unknown")
SIGNALLED = 143


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
    for warning in results.attrs.get("warnings", ()):
        _say(f"warning: {warning}")
    if not live:
        _say("not done: this was a dry run through the sandbox; nothing was sent to a provider.")
        seconds = results.attrs.get("live_seconds")
        if seconds:
            from .decisions import describe_duration

            _say(f"          a live run would take about {describe_duration(seconds)}.")
        _say(f"          {hint}")
    waiting = int((status == "waiting").sum())
    if waiting:
        _say(f"not done: {waiting} rows are waiting; run the same command again to send them "
             "(rows already sent are never sent twice)")
    deferred = int(status.isin(["deferred", "capped"]).sum())
    if deferred:
        _say(f"not done: {deferred} rows are deferred or capped; run the same command again "
             "after the sendable_at time in the results")
    if results.attrs.get("stopped"):
        _say(f"stopped: {results.attrs['stopped']}")
    return 1 if status.isin(_BAD_STATUSES).any() else 0


def _read_results(path: Path) -> pd.DataFrame | None:
    """A results file written before, or None when there is none (or it is unreadable)."""
    if not path.is_file():
        return None
    try:
        if path.suffix.lower() == ".csv":
            return pd.read_csv(path, dtype=str, encoding="utf-8-sig")
        return pd.read_excel(path, dtype=str, engine="calamine")
    except Exception:  # an unreadable old results file proves nothing either way
        return None


def _check_ledger_knows(results_path: Path, campaign: str, ledger_path: Path,
                        sandbox: bool) -> None:
    """Refuse a live run when the results file shows sends the ledger does not have."""
    shown = _read_results(results_path)
    if shown is None or "status" not in shown.columns or "key" not in shown.columns:
        return
    done = shown[shown["status"].isin(_DONE_STATUSES)]
    if done.empty:
        return
    ledger = Ledger.existing(ledger_path)
    known: set[str] = set()
    if ledger is not None:
        with ledger:
            known = set(ledger.records(campaign))
    missing = [k for k in done["key"].dropna().astype(str) if k not in known]
    if missing:
        flag = " --sandbox" if sandbox else ""
        raise SendError(
            f'{results_path} shows {len(missing)} rows of campaign "{campaign}" already sent, '
            f"but the ledger {ledger_path} has no record of them (it was deleted, replaced or "
            "restored from an older copy); nothing was sent. Restore the ledger from a backup, "
            f"or record those rows as sent: campaignkit ledger adopt {results_path} --campaign "
            f"{campaign}{flag}")


def _confirm(sentence: str, count: int, *, yes: bool) -> bool:
    """A live send at a terminal: the count typed back. Elsewhere: only with --yes."""
    _say(sentence)
    if yes:
        return True
    if not sys.stdin.isatty():
        raise SendError(
            "--live needs --yes when no one is at a terminal to confirm (a script, a "
            "scheduler, CI): read the line above, then run the same command with --live --yes")
    answer = input(f"Type {count} to send {count} messages (anything else cancels): ")
    return answer.strip().replace(",", "") == str(count)


def _run(
    recipients: pd.DataFrame,
    message: Message,
    channel: Channel,
    *,
    campaign: str,
    live: bool,
    limit: int | None,
    pacing: Pacing,
    results_path: Path,
    guardrails: Guardrails,
    ledger: Path | None = None,
    key: str | None = None,
    bulk: bool = False,
    yes: bool = False,
    hint: str = "send for real with: campaignkit send CAMPAIGN.toml --live",
) -> int:
    _report_load(recipients)
    rendered = render(recipients, message)
    _report_render(rendered)
    results_path.parent.mkdir(parents=True, exist_ok=True)
    if live:
        path = locate_ledger(ledger)
        if is_sandbox(channel):
            path = sandbox_ledger_path(path)
        _check_ledger_knows(results_path, campaign, path, is_sandbox(channel))
        _say(f"ledger: {path} (every message of every campaign; back it up with "
             "campaignkit ledger backup)")
        _warn_if_insecure(channel)
        sending = plan(rendered, channel, campaign=campaign, ledger=ledger,
                       guardrails=guardrails, rate=pacing.rate, limit=limit, key=key)
        if sending.refused is None and sending.messages:
            sentence = f"LIVE: {sending.confirmation_text()}"
            if not _confirm(sentence, sending.messages, yes=yes):
                _say("cancelled: nothing was sent")
                return 1
        else:
            _say(f"LIVE: {sending.confirmation_text()}")
    try:
        results = send(rendered, channel, campaign=campaign, live=live, limit=limit,
                       pacing=pacing, ledger=ledger, key=key, bulk=bulk,
                       guardrails=guardrails)
    except SendError as exc:
        if exc.results is not None:  # a halted run still writes the results it has
            save_results(exc.results, results_path)
            _say(f"results written to {results_path}")
        raise
    save_results(results, results_path)
    code = _report_results(results, results_path, live, hint)
    stopped = str(results.attrs.get("stopped") or "")
    return SIGNALLED if stopped.startswith("stopped by a signal") else code


def _demo(args: argparse.Namespace) -> int:
    _say("campaignkit demo: the sample clinic campaign, end to end, against the embedded sandbox")
    recipients = load_recipients(sample_path("recipients.xlsx"), default_region="US",
                                 countries=SAMPLE_COUNTRIES)
    message = Message(text=sample_path("message.txt").read_text(encoding="utf-8"))
    # Demo credentials: the embedded sandbox accepts any well-formed key; nothing leaves.
    channel = Sociocs("demo:sandbox-key", "twlo_16175550100", provider="twlo")
    out = Path(args.out)
    code = _run(
        recipients,
        message,
        channel,
        campaign="demo",
        live=False,
        limit=None,
        pacing=Pacing(rate=args.rate, concurrency=4),
        results_path=out / "demo-results.xlsx",
        # The demo's answer must not depend on the hour: quiet hours off, and said so.
        guardrails=Guardrails(quiet_hours=None),
        ledger=out / "demo-ledger.db",
        hint="your own campaign: campaignkit init my-campaign, edit it, then "
             "campaignkit send my-campaign/campaign.toml",
    )
    _say("not done: quiet hours are off in the demo, so it gives the same answer at any hour; "
         "your campaigns keep them on (08:00-21:00 in each recipient's zone)")
    return code


def _init(args: argparse.Namespace) -> int:
    target = Path(args.directory)
    files = {name: sample_path(name) for name in ("campaign.toml", "recipients.csv",
                                                  "message.txt")}
    if target.is_symlink() or any((target / name).is_symlink() for name in files):
        raise DataError(f"{target}: a symbolic link is in the way; campaignkit init writes only "
                        "real files in a real folder. Choose another folder")
    existing = [name for name in files if (target / name).exists()]
    if existing:
        raise DataError(
            f"{target}: {', '.join(existing)} already exist; campaignkit init never overwrites. "
            "Choose an empty folder: campaignkit init FOLDER"
        )
    target.mkdir(parents=True, exist_ok=True)
    for name, source in files.items():
        # "x": never follows a link or replaces a file that appeared meanwhile.
        with open(source, "rb") as reading, open(target / name, "xb") as writing:
            shutil.copyfileobj(reading, writing)
        _say(f"wrote {target / name}")
    _say(f"next: export the keys campaign.toml names, then campaignkit preview "
         f"{target / 'campaign.toml'}")
    return 0


def _preview(args: argparse.Namespace) -> int:
    campaign = load_campaign(args.campaign)
    recipients = campaign.load()
    _report_load(recipients)
    rendered = render(recipients, campaign.message)
    _report_render(rendered)
    requests = preview(rendered, campaign.channel(), campaign=campaign.send.campaign,
                       guardrails=campaign.guardrails(), key=campaign.send.key)
    for label, row in requests.head(args.rows).iterrows():
        _say(f"\nrow {label} → {row['method'] or '(no request)'} {row['url'] or ''}")
        if row["method"] is None:
            for problem in row["problems"] or (row["reason"],):
                _say(f"  {problem}")
            continue
        if row["fate"] != "send":
            _say(f"  {row['fate']}: {row['reason']}")
        _say("  headers: " + json.dumps(row["headers"], ensure_ascii=False))
        _say("  body:    " + json.dumps(row["body"], ensure_ascii=False))
    _say("\nnot done: preview sends nothing. Dry run: campaignkit send CAMPAIGN.toml")
    return 0


def _send(args: argparse.Namespace) -> int:
    campaign: Campaign = load_campaign(args.campaign)
    options = campaign.send
    results = (Path(args.results) if args.results
               else campaign.resolve(options.results, "[send] results"))
    guardrails = campaign.guardrails()
    return _run(
        campaign.load(),
        campaign.message,
        campaign.channel(),
        campaign=options.campaign,
        live=args.live,
        limit=args.limit if args.limit is not None else options.limit,
        pacing=Pacing(rate=args.rate if args.rate is not None else options.rate,
                      concurrency=options.concurrency),
        results_path=results,
        guardrails=guardrails,
        key=options.key,
        bulk=options.bulk,
        yes=args.yes,
    )


# -- after the send: refresh, replies, report ----------------------------------------------

def _campaign_results(campaign: Campaign, results_path: Path) -> pd.DataFrame:
    """The results file of the last run, typed back, with the campaign and ledger it names."""
    shown = _read_results(results_path)
    if shown is None or "status" not in shown.columns:
        raise DataError(f"{results_path}: no results file yet; send the campaign first "
                        "(campaignkit send CAMPAIGN.toml --live)")
    index_name = shown.columns[0]
    shown = shown.set_index(index_name)
    shown.index = pd.Index([_row_label(v) for v in shown.index], name=index_name)
    for column in ("sent_at", "sendable_at", "delivery_at"):
        if column in shown.columns:
            shown[column] = pd.to_datetime(shown[column], utc=True, format="ISO8601")
    channel = campaign.channel()
    path = locate_ledger()
    shown.attrs = {"campaign": campaign.send.campaign, "mode": "live",
                   "ledger": str(sandbox_ledger_path(path) if is_sandbox(channel) else path)}
    return shown


def _warn_if_insecure(channel: Channel) -> Channel:
    """Say so when the key is about to travel over plain http (allowed by allow_insecure)."""
    insecure = insecure_warning(channel.base_url)
    if insecure is not None:
        _say(f"warning: {insecure}")
    return channel


def _row_label(value: object) -> object:
    try:
        return int(str(value))
    except ValueError:
        return value


def _refresh(args: argparse.Namespace) -> int:
    from .outcomes import refresh
    from .report import report

    campaign = load_campaign(args.campaign)
    path = (Path(args.results) if args.results
            else campaign.resolve(campaign.send.results, "[send] results"))
    results = _campaign_results(campaign, path)
    refreshed = refresh(results, _warn_if_insecure(campaign.channel()))
    save_results(refreshed, path)
    counts = report(refreshed).counts
    _say("delivery: " + ", ".join(f"{n} {what}" for what, n in counts.items() if n))
    _say(f"results written to {path} (columns delivery, delivery_at, error_code, error_text)")
    failed = refreshed.attrs.get("refresh_errors") or []
    for line in failed[:5]:
        _say(f"  not read: {line}")
    return 1 if failed else 0


def _replies(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime, timedelta

    from .outcomes import replies

    campaign = load_campaign(args.campaign)
    since = datetime.now(UTC) - timedelta(days=args.days)
    found = replies(_warn_if_insecure(campaign.channel()), since=since)
    for row in found.itertuples(index=False):
        mark = {"stop": "STOP: suppressed", "review": "review: looks like an opt-out"}.get(
            row.kind, "reply")
        _say(f"{row.received_at:%Y-%m-%d %H:%M} {row.number} ({mark}): {row.text}")
    stops = int(found["suppressed"].sum())
    _say(f"{len(found)} replies since {since:%Y-%m-%d %H:%M} UTC; {stops} opted out and are "
         "suppressed in the ledger (no campaign texts them again)")
    return 0


def _report(args: argparse.Namespace) -> int:
    from .report import report

    campaign = load_campaign(args.campaign)
    path = (Path(args.results) if args.results
            else campaign.resolve(campaign.send.results, "[send] results"))
    results = _campaign_results(campaign, path)
    with Ledger(results.attrs["ledger"]) as ledger:
        made = report(results, store=ledger)
    target = made.save(Path(args.out))
    _say("report: " + ", ".join(f"{n} {what}" for what, n in made.counts.items() if n))
    _say(f"report written to {target.resolve()}")
    return 0


def _listen(argv: list[str]) -> int:
    from .listen import main as listen_main

    return listen_main(argv, prog="campaignkit listen")


# -- campaignkit ledger ------------------------------------------------------------------------

def _ledger_path(args: argparse.Namespace) -> Path:
    path = locate_ledger(args.ledger)
    return sandbox_ledger_path(path) if args.sandbox else path


def _open_ledger(args: argparse.Namespace) -> Ledger:
    path = _ledger_path(args)
    ledger = Ledger.existing(path)
    if ledger is None:
        raise DataError(f"there is no ledger at {path} yet: a live send creates it")
    return ledger


def _ledger_where(args: argparse.Namespace) -> int:
    path = _ledger_path(args)
    _say(f"{path}{'' if path.exists() else ' (not created yet: a live send creates it)'}")
    return 0


def _ledger_list(args: argparse.Namespace) -> int:
    with _open_ledger(args) as ledger:
        table = ledger.campaigns()
    if table.empty:
        _say("no campaign has been sent yet")
        return 0
    for row in table.itertuples(index=False):
        _say(f"{row.campaign}: {row.sent} sent, {row.unknown} unknown, {row.failed} failed "
             f"({row.state}; last sent {row.last_sent or 'never'})")
    return 0


def _ledger_show(args: argparse.Namespace) -> int:
    with _open_ledger(args) as ledger:
        records = ledger.records(args.campaign)
    if not records:
        raise DataError(f'the ledger has no campaign "{args.campaign}"; campaignkit ledger list '
                        "shows those it has")
    shown = [r for r in records.values() if args.status is None or r.status == args.status]
    for record in sorted(shown, key=lambda r: (r.status, r.key)):
        _say(f"{record.key}\t{record.status}\trow {record.row}\t{record.sent_at or ''}\t"
             f"{record.error or ''}")
    _say(f"{len(shown)} of {len(records)} rows")
    return 0


def _ledger_resolve(args: argparse.Namespace) -> int:
    with _open_ledger(args) as ledger:
        keys = ledger.unknown(args.campaign) if args.all_unknown else args.keys
        if not keys:
            raise DataError("name the keys to settle, or pass --all-unknown")
        changed = ledger.resolve(args.campaign, keys, "sent" if args.outcome == "sent"
                                 else "resend")
    _say(f"{changed} unknown rows marked {args.outcome}"
         + ("" if args.outcome == "sent" else ": the next run sends them"))
    return 0


def _ledger_backup(args: argparse.Namespace) -> int:
    with _open_ledger(args) as ledger:
        target = ledger.backup(args.target)
    _say(f"backed up {ledger.path} to {target}")
    return 0


def _ledger_adopt(args: argparse.Namespace) -> int:
    shown = _read_results(Path(args.results))
    if shown is None or "status" not in shown.columns:
        raise DataError(f"{args.results} is not a results file campaignkit wrote")
    with Ledger(_ledger_path(args)) as ledger:
        added = ledger.adopt(args.campaign, shown)
    _say(f"{added} rows of {args.results} recorded as sent in {_ledger_path(args)}")
    return 0


def _ledger_import(args: argparse.Namespace) -> int:
    with Ledger(_ledger_path(args)) as ledger:
        added = ledger.import_journal(args.journal)
    _say(f"{added} rows of {args.journal} imported into {_ledger_path(args)}")
    return 0


def _ledger_suppress(args: argparse.Namespace) -> int:
    from .guardrails import Suppression

    found = Suppression.of(args.numbers, default_region=args.region)
    with Ledger(_ledger_path(args)) as ledger:
        added = ledger.suppress(sorted(found.numbers), reason=args.reason, source="user")
    _say(f"{added} numbers suppressed" + (f"; not numbers: {', '.join(found.rejected)}"
                                         if found.rejected else ""))
    return 0


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a rate: give messages per second as a number above 0, e.g. 5")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a number of messages: give a whole number, 0 or more")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="campaignkit",
        description="Run SMS and WhatsApp campaigns from a spreadsheet. Dry run by default.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser("demo", help="run the sample campaign against the embedded sandbox")
    demo.add_argument("--out", default="out", help="folder for the results sheet (default out)")
    demo.add_argument("--rate", type=_positive, default=50.0, help="messages per second")
    demo.set_defaults(run=_demo)

    init = sub.add_parser("init", help="write a sample campaign file, sheet and message "
                                       "(never overwrites)")
    init.add_argument("directory", nargs="?", default=".")
    init.set_defaults(run=_init)

    prev = sub.add_parser("preview", help="show the exact request per row; sends nothing")
    prev.add_argument("campaign", help="the campaign TOML file")
    prev.add_argument("--rows", type=_count, default=3, help="how many rows to show")
    prev.set_defaults(run=_preview)

    snd = sub.add_parser("send", help="send a campaign (a dry run unless --live)")
    snd.add_argument("campaign", help="the campaign TOML file")
    snd.add_argument("--live", action="store_true", help="really send (default: dry run)")
    snd.add_argument("--yes", action="store_true",
                     help="with --live: do not ask to confirm (for scripts and schedulers)")
    snd.add_argument("--limit", type=_count, default=None, help="send only the next N rows")
    snd.add_argument("--rate", type=_positive, default=None, help="messages per second")
    snd.add_argument("--results", default=None, help="results sheet (.xlsx or .csv)")
    snd.set_defaults(run=_send)

    ref = sub.add_parser("refresh", help="ask the provider what became of each sent message")
    ref.add_argument("campaign", help="the campaign TOML file")
    ref.add_argument("--results", default=None, help="the results sheet (default: the file's)")
    ref.set_defaults(run=_refresh)

    rep = sub.add_parser("replies", help="read replies; STOP suppresses the number")
    rep.add_argument("campaign", help="the campaign TOML file")
    rep.add_argument("--days", type=_positive, default=7.0, help="how far back (default 7)")
    rep.set_defaults(run=_replies)

    rpt = sub.add_parser("report", help="write the morning-after report (.html or .png)")
    rpt.add_argument("campaign", help="the campaign TOML file")
    rpt.add_argument("--results", default=None, help="the results sheet (default: the file's)")
    rpt.add_argument("--out", default="report.html", help="report.html (default) or a .png")
    rpt.set_defaults(run=_report)

    sub.add_parser("listen", help="receive delivery and reply webhooks into the ledger "
                                  "(see --help)")

    led = sub.add_parser("ledger", help="where every send is recorded: list, show, resolve, "
                                        "back up")
    led.add_argument("--ledger", default=None, help="another ledger file (default: "
                                                    "$CAMPAIGNKIT_LEDGER, else the per-user one)")
    led.add_argument("--sandbox", action="store_true",
                     help="the ledger of live sends to the sandbox on loopback")
    steps = led.add_subparsers(dest="step", required=True, metavar="STEP")
    steps.add_parser("where", help="print the ledger's path").set_defaults(run=_ledger_where)
    steps.add_parser("list", help="every campaign and its counts").set_defaults(
        run=_ledger_list)
    show = steps.add_parser("show", help="a campaign's rows")
    show.add_argument("campaign")
    show.add_argument("--status", default=None, help="only rows in this status, e.g. unknown")
    show.set_defaults(run=_ledger_show)
    resolve = steps.add_parser("resolve", help="settle unknown rows after checking with the "
                                               "provider")
    resolve.add_argument("campaign")
    resolve.add_argument("keys", nargs="*")
    resolve.add_argument("--all-unknown", action="store_true")
    resolve.add_argument("--as", dest="outcome", choices=["sent", "resend"], required=True)
    resolve.set_defaults(run=_ledger_resolve)
    backup = steps.add_parser("backup", help="copy the ledger (safe while sending)")
    backup.add_argument("target")
    backup.set_defaults(run=_ledger_backup)
    adopt = steps.add_parser("adopt", help="record the sent rows of a results file")
    adopt.add_argument("results")
    adopt.add_argument("--campaign", required=True)
    adopt.set_defaults(run=_ledger_adopt)
    imp = steps.add_parser("import", help="copy a campaignkit 0.1 journal file's sends")
    imp.add_argument("journal")
    imp.set_defaults(run=_ledger_import)
    sup = steps.add_parser("suppress", help="never text these numbers again")
    sup.add_argument("numbers", nargs="+")
    sup.add_argument("--reason", required=True)
    sup.add_argument("--region", default=None, help="for numbers without a country code")
    sup.set_defaults(run=_ledger_suppress)

    sub.add_parser("sandbox", help="serve the provider emulator on 127.0.0.1 (see --help)")
    return parser


_DELEGATED: dict[str, Callable[[list[str]], int]] = {"listen": _listen}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``campaignkit`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["sandbox"]:
        from .sandbox._cli import main as sandbox_main

        return sandbox_main(argv[1:])
    if argv[:1] and argv[0] in _DELEGATED:
        return _DELEGATED[argv[0]](argv[1:])
    args = _parser().parse_args(argv)
    try:
        return int(args.run(args))
    except CampaignError as exc:
        # One line whatever a message quotes (a TOML key or a path may hold a line break).
        shown = "".join(c if c.isprintable() else ascii(c)[1:-1] for c in str(exc))
        print(f"error: {shown}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: every row's state is in the ledger; run the same command "
              "again to resume (already-sent rows are never sent twice)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
