#!/usr/bin/env python3
"""A loopback stand-in for AWS IAM's inline role policies (AWS cannot run here): the
query protocol (POST /, application/x-www-form-urlencoded, Action=…&Version=2010-05-08,
XML answers in the https://iam.amazonaws.com/doc/2010-05-08/ namespace) for
GetRolePolicy, PutRolePolicy and DeleteRolePolicy, with Signature Version 4 checked
(service "iam").

What it holds to, from AWS's documentation: GetRolePolicy returns the document
URL-encoded (RFC 3986); a missing role or policy is 404 NoSuchEntity; a document must be
JSON; the role's inline policies together may hold at most 10,240 characters, whitespace
not counted (LimitExceeded beyond).

Control (tests only, unsigned): POST /_control/role {"RoleName"} creates a role;
POST /_control/fail {"action", "status", "code", "count"} queues errors;
GET /_control/state returns every role's policies (decoded) and the calls.

Usage: iam.py --access-key AKID --secret-key SECRET; prints "listening on PORT".
"""

import argparse
import json
import sys
import threading
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

from sigv4 import check_sigv4

NS = "https://iam.amazonaws.com/doc/2010-05-08/"
LOCK = threading.Lock()
ROLES = {}  # name -> {policy name: document text}
FAIL = []
CALLS = []
ARGS = None
LIMIT = 10240


def size(doc):
    return sum(1 for c in doc if not c.isspace())


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def send(self, status, xml):
        data = xml.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def error(self, status, code, message, kind="Sender"):
        self.send(status, f'<ErrorResponse xmlns="{NS}"><Error><Type>{kind}</Type><Code>{code}</Code>'
                          f'<Message>{escape(message)}</Message></Error><RequestId>{uuid.uuid4()}</RequestId>'
                          f'</ErrorResponse>')

    def ok(self, action, result=""):
        inner = f"<{action}Result>{result}</{action}Result>" if result else ""
        self.send(200, f'<{action}Response xmlns="{NS}">{inner}<ResponseMetadata><RequestId>{uuid.uuid4()}'
                       f'</RequestId></ResponseMetadata></{action}Response>')

    def do_GET(self):
        if self.path == "/_control/state":
            with LOCK:
                body = json.dumps({"roles": ROLES, "calls": CALLS}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            self.error(404, "NotFound", "not found")

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.startswith("/_control/"):
            req = json.loads(body or b"{}")
            with LOCK:
                if self.path == "/_control/role":
                    ROLES.setdefault(req["RoleName"], {})
                elif self.path == "/_control/fail":
                    FAIL.append(dict(req, count=req.get("count", 1)))
            return self.ok("Control")
        problem, _region = check_sigv4(self, body, ARGS.access_key, ARGS.secret_key, "iam")
        if problem:
            status, code, message = problem
            return self.error(status, code, message)
        form = dict(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True))
        action = form.get("Action", "")
        if form.get("Version") != "2010-05-08":
            return self.error(400, "InvalidParameterValue", "Version must be 2010-05-08")
        with LOCK:
            CALLS.append({"action": action, "params": {k: v for k, v in form.items() if k != "PolicyDocument"}})
            for f in FAIL:
                if f["action"] == action and f["count"] > 0:
                    f["count"] -= 1
                    return self.error(f["status"], f["code"], "injected by the stand-in",
                                      "Receiver" if f["status"] >= 500 else "Sender")
            role = ROLES.get(form.get("RoleName", ""))
            if role is None:
                return self.error(404, "NoSuchEntity", f"The role with name {form.get('RoleName')} cannot be found.")
            name = form.get("PolicyName", "")
            if action == "GetRolePolicy":
                if name not in role:
                    return self.error(404, "NoSuchEntity", f"The role policy with name {name} cannot be found.")
                doc = urllib.parse.quote(role[name], safe="")
                return self.ok("GetRolePolicy", f"<RoleName>{escape(form['RoleName'])}</RoleName>"
                                                f"<PolicyName>{escape(name)}</PolicyName>"
                                                f"<PolicyDocument>{doc}</PolicyDocument>")
            if action == "PutRolePolicy":
                doc = form.get("PolicyDocument", "")
                try:
                    json.loads(doc)
                except ValueError:
                    return self.error(400, "MalformedPolicyDocument", "The policy is not valid JSON.")
                total = size(doc) + sum(size(d) for n, d in role.items() if n != name)
                if total > LIMIT:
                    return self.error(409, "LimitExceeded",
                                      f"Maximum policy size of {LIMIT} bytes exceeded for role {form['RoleName']}")
                role[name] = doc
                return self.ok("PutRolePolicy")
            if action == "DeleteRolePolicy":
                if role.pop(name, None) is None:
                    return self.error(404, "NoSuchEntity", f"The role policy with name {name} cannot be found.")
                return self.ok("DeleteRolePolicy")
        return self.error(400, "InvalidAction", f"{action} is not served by this stand-in")


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--access-key", required=True)
    ap.add_argument("--secret-key", required=True)
    ARGS = ap.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(f"listening on {srv.server_address[1]}", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
