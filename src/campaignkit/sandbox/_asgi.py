"""The sandbox over real HTTP: an ASGI app, served by uvicorn on loopback only.

Over a socket, faults are real: a drop aborts the TCP connection before any response byte,
a stall holds the response (until ``stall_seconds`` or until the client hangs up).

Binding to loopback keeps other machines out, not web pages: a page can rebind its own name
to 127.0.0.1 and read the answers (DNS rebinding). So a request is answered only when its
``Host`` is a loopback name, ``localhost``, ``127.0.0.1`` or ``[::1]``, with the served port
(https://developer.mozilla.org/en-US/docs/Glossary/DNS_rebinding).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from .._errors import CampaignError
from ._emulator import Emulator

__all__ = ["CONTROL_PATH", "ASGIApp", "asgi_app", "host_allowed", "loopback", "run_forever",
           "serve"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_TRANSPORT = "campaignkit.sandbox.transport"


class _ConnectionAwareH11(H11Protocol):
    """uvicorn's h11 protocol that lets the app reach its own connection (to drop it).

    ASGI has no "close without a response": an app that returns early gets a 500 from the
    server. So each connection puts its asyncio transport into the scope's ``state``.
    """

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.app_state = {**self.app_state, _TRANSPORT: transport}


_LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "[::1]"})


def _host_name_port(host: str) -> tuple[str, str | None]:
    """``("127.0.0.1", "8000")`` from ``127.0.0.1:8000``; ``("[::1]", None)`` from ``[::1]``."""
    if host.startswith("["):
        name, _, rest = host.partition("]")
        port = rest[1:] if rest.startswith(":") else None
        return (name + "]").lower(), port if rest else None
    name, colon, port = host.partition(":")
    return name.lower(), port if colon else None


def host_allowed(host: str | None, server: tuple[str, int] | None) -> bool:
    """Whether ``host`` (the Host header) names this loopback server (see the module doc).

    >>> host_allowed("localhost:8000", ("127.0.0.1", 8000))
    True
    >>> host_allowed("attacker.example:8000", ("127.0.0.1", 8000))
    False
    """
    if not host:
        return False
    name, port = _host_name_port(host)
    names = set(_LOOPBACK_NAMES)
    if server is not None:
        bound = server[0]
        names.add(f"[{bound}]" if ":" in bound else bound)  # another loopback, e.g. 127.0.0.2
    if name not in names:
        return False
    return port is None or server is None or port == str(server[1])


async def _refuse_host(scope: Scope, host: str, send: Send) -> None:
    server = scope.get("server")
    where = (
        "the served address" if server is None
        else f"http://[{server[0]}]:{server[1]}" if ":" in server[0]
        else f"http://{server[0]}:{server[1]}"
    )
    body = (
        f"campaignkit sandbox: Host {host!r} is not a loopback name; it answers only requests "
        "to localhost, 127.0.0.1 or [::1] (with its port), so a web page cannot reach it "
        f"through DNS rebinding. Point the client at {where}"
    ).encode()
    await send({"type": "http.response.start", "status": 403, "headers": [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
    ]})
    await send({"type": "http.response.body", "body": body})


async def _read_body(receive: Receive) -> bytes | None:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def asgi_app(sandbox: Emulator) -> ASGIApp:
    """An ASGI 3 application answering every HTTP request from ``sandbox``."""

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
        host = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"host"), "")
        if not host_allowed(host, scope.get("server")):
            await _refuse_host(scope, host, send)
            return
        body = await _read_body(receive)
        if body is None:
            return
        if scope["path"] == CONTROL_PATH:
            await _control(sandbox, scope, body, send)
            return
        if sandbox.latency:
            await asyncio.sleep(sandbox.latency)
        url = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        if scope.get("query_string"):
            url += "?" + scope["query_string"].decode("latin-1")
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        reply = sandbox.handle(scope["method"], url, headers, body)
        if reply.drop:
            transport = (scope.get("state") or {}).get(_TRANSPORT)
            if transport is None:
                raise RuntimeError("dropping a connection needs campaignkit.sandbox.serve()")
            transport.abort()  # no response byte: the client sees the connection go away
            await receive()  # returns http.disconnect once the server noticed
            return
        if reply.stall:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(receive(), sandbox.faults.stall_seconds)
                return  # the client hung up (its read timeout): nobody left to answer
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in reply.headers]
        headers.append((b"content-length", str(len(reply.body)).encode()))
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        await send({"type": "http.response.body", "body": reply.body})

    return app


#: ``POST {"seconds": N}`` moves the served sandbox's virtual time (the story, webhooks)
CONTROL_PATH = "/_sandbox/advance"


async def _control(sandbox: Emulator, scope: Scope, body: bytes, send: Send) -> None:
    """The served sandbox's control endpoint: only from loopback, only POST."""
    client = scope.get("client") or ("", 0)
    try:
        local = ipaddress.ip_address(client[0]).is_loopback
    except ValueError:
        local = False
    status = 200
    answer: dict[str, Any] = {}
    try:
        seconds = float(json.loads(body or b"{}").get("seconds", 0))
    except (ValueError, TypeError, AttributeError):
        seconds = -1.0
    if not local:
        status, answer = 403, {"error": "the control endpoint answers loopback clients only"}
    elif scope["method"] != "POST" or not seconds >= 0:
        status, answer = 400, {"error": 'POST {"seconds": <0 or more>}'}
    else:
        posted = await asyncio.to_thread(sandbox.advance, seconds)
        answer = {"now": sandbox.now(), "webhooks": posted}
    content = json.dumps(answer).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(content)).encode())]})
    await send({"type": "http.response.body", "body": content})


def loopback(host: str) -> str:
    """``host`` if it is a loopback address (``localhost`` -> ``127.0.0.1``), else refuse."""
    address = "127.0.0.1" if host == "localhost" else host
    try:
        ok = ipaddress.ip_address(address).is_loopback
    except ValueError:
        ok = False
    if not ok:
        raise CampaignError(
            f"The sandbox listens only on loopback, not on {host!r}: it accepts any "
            "credential and answers with fake data. Use host='127.0.0.1' (or '::1')."
        )
    return address


def _bind(host: str, port: int) -> socket.socket:
    address = loopback(host)
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    # IPPROTO_TCP spelled out: asyncio sets TCP_NODELAY only on sockets it knows are TCP, and
    # without it Nagle's algorithm added about 40 ms to every response over loopback.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((address, port))
        # Listening from here: a client connecting before uvicorn accepts waits in the
        # backlog instead of being refused, so the "listening" line is true when printed.
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise CampaignError(
            f"The sandbox cannot listen on {address} port {port}: {exc.strerror}. "
            "Pick another --port, or 0 for any free port."
        ) from exc
    return sock


def _server(sandbox: Emulator, *, own_logging: bool) -> uvicorn.Server:
    """uvicorn for ``sandbox``; ``own_logging`` lets it configure logging (foreground only).

    In someone else's process (a script, a notebook) uvicorn must not install its handlers:
    its records then reach only logging the application configured.
    """
    config = uvicorn.Config(
        asgi_app(sandbox),
        http=_ConnectionAwareH11,
        lifespan="on",
        log_level="warning",
        log_config=uvicorn.config.LOGGING_CONFIG if own_logging else None,
        access_log=False,
        timeout_graceful_shutdown=1,
    )
    return uvicorn.Server(config)


def _base_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


@contextlib.contextmanager
def serve(sandbox: Emulator, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve ``sandbox`` on loopback in a background thread; yields the base URL.

    ``port=0`` picks a free port; the URL has the real one.

    Examples
    --------
    >>> with serve(Sandbox()) as base_url:  # doctest: +SKIP
    ...     httpx.post(base_url + "/message", ...)
    """
    sock = _bind(host, port)
    server = _server(sandbox, own_logging=False)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="campaignkit-sandbox", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise CampaignError("The sandbox server did not start; see the log above.")
        time.sleep(0.005)
    try:
        yield _base_url(sock)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def run_forever(
    sandbox: Emulator, host: str = "127.0.0.1", port: int = 8000,
    announce: Callable[[str], None] | None = None,
) -> None:
    """Serve ``sandbox`` in the foreground until Ctrl+C (the CLI's ``sandbox`` command)."""
    sock = _bind(host, port)
    line = f"campaignkit sandbox listening on {_base_url(sock)} (Ctrl+C to stop)"
    if announce is None:
        print(line, flush=True)
    else:
        announce(line)
    try:
        _server(sandbox, own_logging=True).run(sockets=[sock])
    finally:
        sock.close()
