"""An OpenAI chat-completions server on 127.0.0.1 for provider and agent tests. Each request takes the next
scripted reply and is recorded. A reply can be an answer (sent as SSE chunks when the request streams,
with a usage chunk when asked for), tool calls, an HTTP error, a delay longer than the client's timeout,
or raw bytes (truncated or non-JSON). `GET /v1/models` answers while `models_up` is true."""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

from evals.loopback import LoopbackServer

USAGE = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}


@dataclass
class Reply:
    status: int = 200
    body: dict | None = None  # a whole JSON body (an error, or a completion with tool calls)
    stream: list[str] | None = None  # content pieces sent as SSE chunks whatever the request asked
    headers: dict[str, str] = field(default_factory=dict)
    content: str | None = None  # assistant text: one completion, or chunks when the request streams
    raw: bytes | None = None  # bytes sent as they are (truncated or non-JSON)
    delay: float = 0.0  # seconds before answering


def completion(content: str = "", tool_calls: list[dict] | None = None) -> dict:
    message: dict = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = [{"id": f"call_{i}", "type": "function", "function": {
            "name": c["name"], "arguments": json.dumps(c["args"])}} for i, c in enumerate(tool_calls)]
    return {"id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "test-model",
            "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if tool_calls else "stop"}],
            "usage": USAGE}


def tools(*calls: tuple[str, dict]) -> Reply:
    return Reply(body=completion(tool_calls=[{"name": name, "args": args} for name, args in calls]))


def error(status: int, message: str) -> Reply:
    return Reply(status, {"error": {"message": message, "type": "invalid_request_error", "code": None}})


def _chunk(delta: dict, finish: str | None = None, usage: dict | None = None) -> bytes:
    body = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "test-model",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}] if usage is None else [],
            **({"usage": usage} if usage else {})}
    return f"data: {json.dumps(body)}\n\n".encode()


class ChatServer(LoopbackServer):
    def __init__(self) -> None:
        self.replies: list[Reply] = []
        self.requests: list[dict] = []
        self.models_up = True
        self.default = Reply(content="default")
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                status, body = (200, {"object": "list", "data": [{"id": "test-model", "object": "model"}]}) \
                    if server.models_up else (503, {"error": {"message": "down"}})
                self._json(status, body)

            def _json(self, status: int, body: dict, headers: dict | None = None) -> None:
                payload = json.dumps(body).encode()
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _sse(self, pieces: list[str], usage: bool) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                for piece in pieces:
                    self.wfile.write(_chunk({"content": piece}))
                    self.wfile.flush()
                self.wfile.write(_chunk({}, "stop"))
                if usage:
                    self.wfile.write(_chunk({}, usage=USAGE))
                self.wfile.write(b"data: [DONE]\n\n")

            def do_POST(self) -> None:
                request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append(request)
                reply = server.replies.pop(0) if server.replies else server.default
                if reply.delay:
                    time.sleep(reply.delay)
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up (timeouts)
                    self._answer(request, reply)

            def _answer(self, request: dict, reply: Reply) -> None:
                wants_usage = bool((request.get("stream_options") or {}).get("include_usage"))
                if reply.raw is not None:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(reply.raw) + 50))  # promise more than is sent
                    self.end_headers()
                    self.wfile.write(reply.raw)
                    self.close_connection = True
                elif reply.stream is not None:
                    self._sse(reply.stream, wants_usage)
                elif reply.content is not None and request.get("stream"):
                    words = [w + " " for w in reply.content.split(" ")]
                    words[-1] = words[-1].rstrip(" ")
                    self._sse(words, wants_usage)
                elif reply.content is not None:
                    self._json(reply.status, completion(reply.content), reply.headers)
                else:
                    self._json(reply.status, reply.body or {}, reply.headers)

        super().__init__(Handler)

    @property
    def base_url(self) -> str:
        return f"{self.base}/v1"
