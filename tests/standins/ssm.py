#!/usr/bin/env python3
"""A loopback stand-in for AWS Systems Manager's Session Manager API (AWS cannot run
here): the JSON 1.1 protocol (POST /, X-Amz-Target: AmazonSSM.<Operation>,
Content-Type application/x-amz-json-1.1) for DescribeSessions and TerminateSession.

What it holds to, from AWS's documentation:
- every request must carry a valid Signature Version 4 (service "ssm"; the signature is
  recomputed with the configured secret key; unsigned or mis-signed requests get 400
  IncompleteSignatureException / 403 SignatureDoesNotMatch / UnrecognizedClientException);
- DescribeSessions: State Active|History (required), Filters of {key, value} with keys
  InvokedAfter, InvokedBefore, Target, Owner, Status, SessionId, AccessType; MaxResults
  1-200; NextToken paging; Sessions carry SessionId, Target, Status, StartDate, Owner;
- TerminateSession: {SessionId} -> {SessionId}, and success even for an unknown session
  (AWS reports success for a session that is not valid);
- session IDs are <RoleSessionName>-<hex>, Owner the assumed-role ARN.

Control (tests only, under /_control/, unsigned): POST /_control/sessions adds a session
{SessionId, Owner, Target, Region}; POST /_control/fail queues errors
{"operation": "DescribeSessions"|"TerminateSession", "status": 400|500|503,
"type": "ThrottlingException"|"InternalServerError"|..., "count": N};
POST /_control/clear drops queued errors and sticky sessions;
POST /_control/sticky {"SessionId", "count"} makes TerminateSession report success
without ending the session `count` times; GET /_control/state returns every session
and the log of calls (operation, region, session id, time).

Usage: ssm.py --access-key AKID --secret-key SECRET; prints "listening on PORT".
"""

import argparse
import hashlib
import hmac
import json
import sys
import threading
import time
import urllib.parse
from http.server import ThreadingHTTPServer

LOCK = threading.Lock()
SESSIONS = {}  # SessionId -> dict (Region, Owner, Target, Status, StartDate, State)
FAIL = []  # queued errors: dicts with operation, status, type, count
STICKY = {}  # SessionId -> times TerminateSession does nothing
CALLS = []
ARGS = None
FILTER_KEYS = {"InvokedAfter", "InvokedBefore", "Target", "Owner", "Status", "SessionId", "AccessType"}


from json11 import JsonHandler
from sigv4 import check_sigv4


class Handler(JsonHandler):

    def do_GET(self):
        if self.path == "/_control/state":
            with LOCK:
                self.reply(200, {"sessions": list(SESSIONS.values()), "calls": CALLS})
        else:
            self.error(404, "UnknownOperationException", "not found")

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.startswith("/_control/"):
            return self.control(json.loads(body or b"{}"))
        problem, region = check_sigv4(self, body, ARGS.access_key, ARGS.secret_key, "ssm")
        if problem:
            return self.error(*problem)
        target = self.headers.get("X-Amz-Target", "")
        if not target.startswith("AmazonSSM."):
            return self.error(400, "UnknownOperationException", f"unknown target {target!r}")
        op = target[len("AmazonSSM."):]
        try:
            req = json.loads(body or b"{}")
        except ValueError:
            return self.error(400, "SerializationException", "body is not JSON")
        with LOCK:
            CALLS.append({"operation": op, "region": region, "request": req, "time": time.time()})
            for f in FAIL:
                if f["operation"] == op and f["count"] > 0:
                    f["count"] -= 1
                    return self.error(f["status"], f["type"], "injected by the stand-in")
        if op == "DescribeSessions":
            return self.describe(region, req)
        if op == "TerminateSession":
            return self.terminate(region, req)
        return self.error(400, "InvalidAction", f"{op} is not served by this stand-in")

    def describe(self, region, req):
        state = req.get("State")
        if state not in ("Active", "History"):
            return self.error(400, "ValidationException", "State must be Active or History")
        max_results = req.get("MaxResults", 20)
        if not isinstance(max_results, int) or not 1 <= max_results <= 200:
            return self.error(400, "ValidationException", "MaxResults must be 1-200")
        filters = req.get("Filters", [])
        for f in filters:
            if f.get("key") not in FILTER_KEYS or not f.get("value"):
                return self.error(400, "InvalidFilterKey", f"bad filter {f!r}")
        with LOCK:
            rows = [s for s in SESSIONS.values() if s["Region"] == region and s["State"] == state
                    and all(self.match(s, f) for f in filters)]
        rows.sort(key=lambda s: s["SessionId"])
        start = int(req.get("NextToken") or 0)
        page = rows[start:start + max_results]
        out = {"Sessions": [{k: s[k] for k in ("SessionId", "Target", "Status", "StartDate", "Owner")}
                            for s in page]}
        if start + max_results < len(rows):
            out["NextToken"] = str(start + max_results)
        self.reply(200, out)

    @staticmethod
    def match(s, f):
        k, v = f["key"], f["value"]
        return {"Owner": s["Owner"] == v, "Target": s["Target"] == v, "SessionId": s["SessionId"] == v,
                "Status": s["Status"] == v}.get(k, True)

    def terminate(self, region, req):
        sid = req.get("SessionId")
        if not isinstance(sid, str) or not 1 <= len(sid) <= 96:
            return self.error(400, "ValidationException", "SessionId must be 1-96 characters")
        with LOCK:
            s = SESSIONS.get(sid)
            if s and s["Region"] == region and s["State"] == "Active":
                if STICKY.get(sid, 0) > 0:
                    STICKY[sid] -= 1
                else:
                    s["State"], s["Status"] = "History", "Terminated"
                    s["EndDate"] = time.time()
        # Success whether or not the session was valid, as AWS answers.
        self.reply(200, {"SessionId": sid})

    def control(self, req):
        with LOCK:
            if self.path == "/_control/sessions":
                SESSIONS[req["SessionId"]] = {
                    "SessionId": req["SessionId"], "Owner": req["Owner"], "Target": req["Target"],
                    "Region": req["Region"], "Status": "Connected", "State": "Active",
                    "StartDate": time.time(),
                }
            elif self.path == "/_control/fail":
                FAIL.append({"operation": req["operation"], "status": req["status"], "type": req["type"],
                             "count": req.get("count", 1)})
            elif self.path == "/_control/clear":
                FAIL.clear()
                STICKY.clear()
            elif self.path == "/_control/sticky":
                STICKY[req["SessionId"]] = req.get("count", 1)
            else:
                return self.error(404, "UnknownOperationException", "not found")
        self.reply(200, {})


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
