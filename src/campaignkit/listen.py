"""``campaignkit listen``: receive the providers' webhooks into the ledger.

A small ASGI app served by uvicorn. ``POST /sociocs`` takes Sociocs's status updates and
incoming messages (docs.sociocs.com/api/webhooks/introduction), ``POST /textus`` TextUs's
``WebhookDelivery`` bodies (apidocs.next.textus.com/overview/webhooks). Bird documents no
webhook payload for the Channels API in the material this project follows, so it has no
route. Each body is verified when a secret is set (hex HMAC-SHA256 of the raw body in
``X-Sociocs-Signature`` / ``X-TextUs-Signature``; unsigned or wrongly signed bodies get 401)
and written to the store; a replayed body changes nothing (the store's writes are
idempotent). It listens on loopback unless ``--public`` says otherwise: a webhook URL is
usually a tunnel or a reverse proxy in front of it.
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, MutableMapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import uvicorn

from ._errors import CampaignError
from .channels import Sociocs, TextUs
from .channels._outcomes import FINAL, Delivery, Inbound, signature_matches
from .ledger import Ledger, locate_ledger, sandbox_ledger_path
from .outcomes import OutcomeStore, record_replies

__all__ = ["listen_app", "main", "serve_listener"]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_ROUTES = {
    "/sociocs": ("sociocs", "x-sociocs-signature", Sociocs.parse_webhook),
    "/textus": ("textus", "x-textus-signature", TextUs.parse_webhook),
}
MAX_BODY = 1_000_000


def apply(found: Delivery | Inbound | None, provider: str, store: OutcomeStore) -> dict[str, Any]:
    """Write one parsed webhook to the store; what happened, as the JSON answer says it."""
    if isinstance(found, Inbound):
        frame = record_replies([found], provider, store)
        row = frame.iloc[0]
        return {"reply": True, "new": bool(row["new"]), "kind": str(row["kind"]),
                "suppressed": bool(row["suppressed"])}
    if isinstance(found, Delivery) and found.message_id:
        record = store.delivery_by_message_id(found.message_id)
        if record is None:
            return {"status": found.delivery, "matched": False}
        updated = replace(
            record, delivery=found.delivery, provider_status=found.provider_status,
            delivery_at=found.at or record.delivery_at,
            error_code=found.error_code, error_text=found.error_text,
            segments_billed=found.segments_billed or record.segments_billed,
            checked_at=datetime.now(UTC), final=found.delivery in FINAL)
        changed = store.save_deliveries([updated])
        return {"status": found.delivery, "matched": True, "changed": bool(changed)}
    return {"ignored": True}


def listen_app(
    store: OutcomeStore, *, sociocs_secret: str | None = None, textus_secret: str | None = None
) -> ASGIApp:
    """The ASGI app: ``POST /sociocs`` and ``POST /textus`` into ``store``."""
    secrets = {"sociocs": sociocs_secret, "textus": textus_secret}

    async def answer(send: Send, status: int, payload: dict[str, Any]) -> None:
        content = json.dumps(payload).encode()
        await send({"type": "http.response.start", "status": status, "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(content)).encode())]})
        await send({"type": "http.response.body", "body": content})

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > MAX_BODY:
                await answer(send, 413, {"error": "body too large"})
                return
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        route = _ROUTES.get(scope["path"].rstrip("/"))
        if route is None:
            await answer(send, 404, {"error": "POST to /sociocs or /textus"})
            return
        if scope["method"] != "POST":
            await answer(send, 405, {"error": "webhooks are POSTed"})
            return
        provider, header, parse = route
        secret = secrets[provider]
        if secret:
            headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                       for k, v in scope["headers"]}
            if not signature_matches(secret, body, headers.get(header)):
                await answer(send, 401, {"error": f"missing or wrong {header}"})
                return
        await answer(send, 200, apply(parse(body), provider, store))

    return app


def _bind(host: str, port: int, public: bool) -> socket.socket:
    address = "127.0.0.1" if host == "localhost" else host
    try:
        loop = ipaddress.ip_address(address).is_loopback
    except ValueError as exc:
        raise CampaignError(f"--host {host!r} is not an IP address: give e.g. 127.0.0.1") from exc
    if not loop and not public:
        raise CampaignError(
            f"listen binds to loopback only, not {host!r}: put a tunnel or reverse proxy in "
            "front of 127.0.0.1, or pass --public to listen on that address (set a secret)")
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((address, port))
        sock.listen(512)
    except OSError as exc:
        sock.close()
        raise CampaignError(f"cannot listen on {address} port {port}: {exc.strerror}; pick "
                            "another --port") from exc
    return sock


def _server(app: ASGIApp) -> uvicorn.Server:
    return uvicorn.Server(uvicorn.Config(app, lifespan="on", log_level="warning",
                                         access_log=False, timeout_graceful_shutdown=1))


def _url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


@contextlib.contextmanager
def serve_listener(
    store: OutcomeStore, *, host: str = "127.0.0.1", port: int = 0,
    sociocs_secret: str | None = None, textus_secret: str | None = None,
) -> Iterator[str]:
    """Serve `listen_app` in a background thread on loopback; yields its base URL."""
    sock = _bind(host, port, public=False)
    server = _server(listen_app(store, sociocs_secret=sociocs_secret,
                                textus_secret=textus_secret))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]},
                              name="campaignkit-listen", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise CampaignError("the webhook listener did not start; see the log above")
        time.sleep(0.005)
    try:
        yield _url(sock)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def build_parser(prog: str = "campaignkit listen") -> argparse.ArgumentParser:
    """The options of ``campaignkit listen``."""
    parser = argparse.ArgumentParser(
        prog=prog, description="Receive Sociocs and TextUs webhooks into the ledger.")
    parser.add_argument("--port", type=int, default=8010, help="port (default 8010)")
    parser.add_argument("--host", default="127.0.0.1", help="address (loopback by default)")
    parser.add_argument("--public", action="store_true",
                        help="allow an address beyond loopback (set the secrets too)")
    parser.add_argument("--ledger", default=None,
                        help="the ledger file (default: $CAMPAIGNKIT_LEDGER, else the per-user "
                             "one)")
    parser.add_argument("--sandbox", action="store_true",
                        help="the ledger of live sends to the sandbox on loopback")
    parser.add_argument("--sociocs-secret-env", default="CAMPAIGNKIT_SOCIOCS_WEBHOOK_SECRET",
                        metavar="VAR", help="environment variable holding the Sociocs secret")
    parser.add_argument("--textus-secret-env", default="CAMPAIGNKIT_TEXTUS_WEBHOOK_SECRET",
                        metavar="VAR", help="environment variable holding the TextUs secret")
    return parser


def main(argv: Sequence[str] | None = None, *, prog: str | None = None) -> int:
    """Listen in the foreground until Ctrl+C; returns the exit status.

    Secrets come from environment variables, never from the command line (where ``ps``
    and shell history would show them).
    """
    parser = build_parser() if prog is None else build_parser(prog)
    args = parser.parse_args(argv)
    sociocs_secret = os.environ.get(args.sociocs_secret_env) or None
    textus_secret = os.environ.get(args.textus_secret_env) or None
    try:
        sock = _bind(args.host, args.port, args.public)
    except CampaignError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    unsigned = [name for name, secret in (("Sociocs", sociocs_secret),
                                          ("TextUs", textus_secret)) if not secret]
    path = locate_ledger(args.ledger)
    if args.sandbox:
        path = sandbox_ledger_path(path)
    with Ledger(path) as store:
        print(f"campaignkit listen on {_url(sock)} (POST /sociocs, /textus) into the ledger "
              f"{path} (Ctrl+C to stop)", flush=True)
        if unsigned:
            print(f"warning: no secret for {' and '.join(unsigned)}: unsigned bodies are "
                  f"accepted (set ${args.sociocs_secret_env} / ${args.textus_secret_env})",
                  file=sys.stderr)
        try:
            _server(listen_app(store, sociocs_secret=sociocs_secret,
                               textus_secret=textus_secret)).run(sockets=[sock])
        finally:
            sock.close()
    return 0
