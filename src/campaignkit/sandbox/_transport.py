"""The sandbox in-process: an httpx transport, sync and async.

Faults look like the real thing to the client: a drop raises `httpx.RemoteProtocolError`
("Server disconnected without sending a response.", as httpcore says on a real socket);
a stall waits the request's own read timeout and raises `httpx.ReadTimeout`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import httpx

from ._common import Reply
from ._emulator import Emulator

__all__ = ["SandboxTransport"]

DROPPED = "Server disconnected without sending a response."


def _read_timeout(request: httpx.Request) -> float | None:
    timeout = request.extensions.get("timeout") or {}
    value = timeout.get("read")
    return None if value is None else float(value)


class SandboxTransport(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """Answers httpx requests from a `Sandbox` without a network (``sandbox.transport()``).

    Parameters
    ----------
    sandbox
        The sandbox that answers.
    sleep, async_sleep
        How to wait for latency and stalls (tests pass recorders instead of real sleeps).
    """

    def __init__(
        self,
        sandbox: Emulator,
        *,
        sleep: Callable[[float], None],
        async_sleep: Callable[[float], Awaitable[object]] | None = None,
    ) -> None:
        self.sandbox = sandbox
        self._sleep = sleep
        self._async_sleep = async_sleep or asyncio.sleep

    def _plan(self, request: httpx.Request) -> tuple[float, float | None]:
        """(seconds to wait before handling, read timeout) for ``request``."""
        return self.sandbox.latency, _read_timeout(request)

    def _answer(self, request: httpx.Request) -> Reply:
        return self.sandbox.handle(
            request.method, request.url, request.headers.multi_items(), request.content
        )

    def _response(self, reply: Reply, request: httpx.Request) -> httpx.Response:
        if reply.drop:
            raise httpx.RemoteProtocolError(DROPPED, request=request)
        return httpx.Response(
            reply.status, headers=list(reply.headers), content=reply.body, request=request
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        latency, read_timeout = self._plan(request)
        if read_timeout is not None and latency > read_timeout:
            # The server still handles it: the client just stops waiting (ambiguous).
            self._sleep(read_timeout)
            self._answer(request)
            raise httpx.ReadTimeout("timed out", request=request)
        if latency:
            self._sleep(latency)
        reply = self._answer(request)
        if reply.stall:
            stall = self.sandbox.faults.stall_seconds
            if read_timeout is not None and read_timeout < stall:
                self._sleep(read_timeout)
                raise httpx.ReadTimeout("timed out", request=request)
            self._sleep(stall)
        return self._response(reply, request)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        latency, read_timeout = self._plan(request)
        if read_timeout is not None and latency > read_timeout:
            await self._async_sleep(read_timeout)
            self._answer(request)
            raise httpx.ReadTimeout("timed out", request=request)
        if latency:
            await self._async_sleep(latency)
        reply = self._answer(request)
        if reply.stall:
            stall = self.sandbox.faults.stall_seconds
            if read_timeout is not None and read_timeout < stall:
                await self._async_sleep(read_timeout)
                raise httpx.ReadTimeout("timed out", request=request)
            await self._async_sleep(stall)
        return self._response(reply, request)

    def __repr__(self) -> str:
        return f"<SandboxTransport {self.sandbox!r}>"
