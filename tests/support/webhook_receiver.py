#!/usr/bin/env python3
"""A webhook receiver as a user would write one, for tests/e2e/notifications/: every POST is
verified with the `standardwebhooks` package (the signing secret comes from the environment,
WEBHOOK_SECRET) and parsed with the CloudEvents SDK (`cloudevents`, structured JSON mode); each
accepted event is appended to OUT as one JSON line {id, type, source, subject, specversion,
time, datacontenttype, data, body, headers}. A delivery that fails either check is answered 400
and recorded in OUT.rejected. While the file DOWN exists the receiver answers 503 (a receiver
that is down) and records nothing.

Usage: webhook_receiver.py OUT DOWN  (prints the port it listens on, on 127.0.0.1, then serves)
"""

import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cloudevents.core.bindings.http import HTTPMessage, from_http
from cloudevents.core.formats.json import JSONFormat
from standardwebhooks import Webhook

OUT, DOWN = sys.argv[1], sys.argv[2]
HOOK = Webhook(os.environ["WEBHOOK_SECRET"])
MAX_BODY = 1 << 20


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        length = min(int(self.headers.get("content-length", "0")), MAX_BODY)
        body = self.rfile.read(length)
        if os.path.exists(DOWN):
            self.send_response(503)
            self.end_headers()
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            HOOK.verify(body, headers)
            if headers.get("content-type") != "application/cloudevents+json":
                raise ValueError(f"content-type {headers.get('content-type')!r}")
            event = from_http(HTTPMessage(headers=headers, body=body), JSONFormat())
        except Exception as e:  # noqa: BLE001 - any failure is a rejected delivery
            with open(OUT + ".rejected", "a", encoding="utf-8") as f:
                f.write(json.dumps({"error": repr(e)}) + "\n")
            self.send_response(400)
            self.end_headers()
            return
        time = event.get_time()
        line = {
            "id": event.get_id(),
            "type": event.get_type(),
            "source": event.get_source(),
            "subject": event.get_subject(),
            "specversion": event.get_specversion(),
            "time": time.isoformat() if time else None,
            "datacontenttype": event.get_datacontenttype(),
            "data": event.get_data(),
            "body": body.decode("utf-8"),
            "headers": headers,
        }
        with open(OUT, "a", encoding="utf-8") as f:
            f.write(json.dumps(line) + "\n")
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
