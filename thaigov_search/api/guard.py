"""ASGI guard in front of the app: undecodable URLs and oversized bodies are 400/413 before any
route runs, and an unhandled exception becomes a JSON 500, never a stack trace.
"""

import json
import logging
from urllib.parse import unquote_to_bytes

from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger(__name__)


class RequestTooLarge(Exception):
    """The streamed request body went past the limit."""


def json_message(status: int, detail: str) -> tuple[Message, Message]:
    body = json.dumps({"detail": detail}, ensure_ascii=False).encode("utf-8")
    start = {"type": "http.response.start", "status": status,
             "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]}
    return start, {"type": "http.response.body", "body": body}


class GuardMiddleware:
    """Rejects undecodable URLs and oversized bodies; turns any unhandled exception into a JSON 500."""

    def __init__(self, app: ASGIApp, max_body_bytes: int):
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        problem = self.check(scope)
        if problem:
            await self.reply(send, *problem)
            return
        started = False
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise RequestTooLarge()
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except RequestTooLarge:
            if not started:
                await self.reply(send, 413, f"the request body is larger than the limit of {self.max_body_bytes} bytes")
        except Exception:
            logger.exception("unhandled error in %s %s", scope.get("method"), scope.get("path"))
            if not started:
                await self.reply(send, 500, "internal server error; the server log has the details")

    def check(self, scope: Scope) -> tuple[int, str] | None:
        """400 for invalid UTF-8 in the path or query string, 413/400 for a bad Content-Length."""
        for part, raw in (("path", scope.get("raw_path") or b""), ("query string", scope.get("query_string", b""))):
            try:
                unquote_to_bytes(raw.replace(b"+", b" ")).decode("utf-8")
            except UnicodeDecodeError:
                return 400, f"the URL {part} is not valid UTF-8 after percent-decoding"
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                if not value.strip().isdigit():
                    return 400, "the Content-Length header is not a number"
                if int(value) > self.max_body_bytes:
                    return 413, f"the request body is {int(value)} bytes; the limit is {self.max_body_bytes}"
        return None

    @staticmethod
    async def reply(send: Send, status: int, detail: str) -> None:
        start, body = json_message(status, detail)
        await send(start)
        await send(body)
