"""A real HTTP receiver on loopback, in a thread: records what arrives and answers as told."""

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import standardwebhooks


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def payload(self) -> dict:
        return json.loads(self.body)

    @property
    def type(self) -> str:
        return self.payload["type"]


@dataclass
class Receiver:
    server: ThreadingHTTPServer
    received: list[Received] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)
    """Statuses for the next requests, first first; 200 once used up."""
    hold: threading.Event | None = None
    """Set: each request waits for it before answering."""
    lock: threading.Lock = field(default_factory=threading.Lock)
    on_arrival: Callable[[], None] | None = None
    """Called as a request arrives, before it is held or answered."""

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/hook"

    def accepted(self) -> list[Received]:
        """Requests answered with a 2xx, in arrival order."""
        return [r for r in self.received if r.headers.get("x-answered", "200").startswith("2")]

    def types(self) -> list[str]:
        return [r.type for r in self.accepted()]

    def verified(self, secret: str) -> list[dict]:
        """Every accepted payload, checked with the Standard Webhooks library."""
        hook = standardwebhooks.Webhook(secret)
        return [hook.verify(r.body, r.headers) for r in self.accepted()]


def start_receiver() -> Receiver:
    receiver: Receiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            if receiver.on_arrival is not None:
                receiver.on_arrival()
            if receiver.hold is not None:
                receiver.hold.wait(30)
            with receiver.lock:
                status = receiver.answers.pop(0) if receiver.answers else 200
                headers = {k.lower(): v for k, v in self.headers.items()}
                headers["x-answered"] = str(status)
                receiver.received.append(Received(headers, body))
            try:
                self.send_response(status)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
            except OSError:  # the sender is gone (a killed dispatcher)
                pass

        def log_message(self, *_args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver = Receiver(server)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return receiver


def stop_receiver(receiver: Receiver) -> None:
    if receiver.hold is not None:
        receiver.hold.set()
    receiver.server.shutdown()
    receiver.server.server_close()
