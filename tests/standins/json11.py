"""What the tests' JSON 1.1 stand-ins (ssm.py, config.py) share: AWS's response framing
(Content-Type application/x-amz-json-1.1, x-amzn-RequestId, and for errors the
x-amzn-ErrorType header and a {"__type", "message"} body)."""

import json
import time
from http.server import BaseHTTPRequestHandler


class JsonHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, status, obj, error_type=None):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amzn-RequestId", f"standin-{time.monotonic_ns()}")
        if error_type:
            self.send_header("x-amzn-ErrorType", error_type)
        self.end_headers()
        self.wfile.write(data)

    def error(self, status, etype, message):
        self.reply(status, {"__type": etype, "message": message}, etype)
