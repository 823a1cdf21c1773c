"""A webhook receiver for ILS in Python: it verifies each request's Standard Webhooks signature
with the ``standardwebhooks`` library, processes each event once (the ``webhook-id`` is the
event id, the same on every retry and replay), and answers 204; a bad signature gets 401.

Run it with the endpoint's secret: ``WEBHOOK_SECRET=whsec_... python webhook_receiver.py 8080``
(port 0: any free port). It prints ``listening <port>``, then ``<type> <id>`` per new event.
"""

from __future__ import annotations

import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook, WebhookVerificationError


def make_handler(secret: str) -> type[BaseHTTPRequestHandler]:
    webhook = Webhook(secret)
    seen: set[str] = set()  # keep these in your database: a restart must not forget them

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            try:
                event = webhook.verify(body, dict(self.headers))
            except WebhookVerificationError:
                self.send_response(401)
                self.end_headers()
                return
            if event["id"] not in seen:  # a retry or a replay of an event already handled
                seen.add(event["id"])
                print(f"{event['type']} {event['id']}", flush=True)
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass  # one line per event is enough for this example

    return Handler


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
    server = ThreadingHTTPServer(("127.0.0.1", port), make_handler(os.environ["WEBHOOK_SECRET"]))
    print(f"listening {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
