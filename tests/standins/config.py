#!/usr/bin/env python3
"""A loopback stand-in for AWS Config's advanced query (AWS cannot run here): the JSON
1.1 protocol (POST /, X-Amz-Target: StarlingDoveService.<Operation>, Content-Type
application/x-amz-json-1.1) for SelectResourceConfig and SelectAggregateResourceConfig.

What it holds to, from AWS's documentation (and ../shared/AWS-FACTS.md):
- every request carries a valid Signature Version 4 (service "config");
- Expression at most 4,096 characters, Limit at most 100 (InvalidLimitException),
  NextToken paging; Results are JSON strings of the selected properties;
- the grammar sesame emits, evaluated: SELECT <properties> WHERE <condition> [AND …],
  each condition `<property> = '<literal>'` over resourceType, resourceId, awsRegion,
  accountId, tags.tag, tags.key, tags.value; anything else is InvalidExpressionException;
- array properties match per condition against ANY element: `tags.key = 'A' AND
  tags.value = 'x'` also matches an instance tagged A=y, B=x (the reason sesame only
  writes `tags.tag = 'A=x'`);
- SelectResourceConfig answers for the caller's account only (--account);
  SelectAggregateResourceConfig for every account of the named aggregator (--aggregator).

Control (tests only, unsigned): POST /_control/resources adds instances [{resourceId,
awsRegion, accountId, tags: {key: value}}]; POST /_control/fail queues errors
{"operation", "status", "type", "count"}; POST /_control/select {"Expression"} evaluates
without paging (to show the grammar's rules); GET /_control/state returns the call log.

Usage: config.py --access-key AKID --secret-key SECRET --account ID --aggregator NAME
"""

import argparse
import json
import re
import sys
import threading
import time
from http.server import ThreadingHTTPServer

from json11 import JsonHandler
from sigv4 import check_sigv4

LOCK = threading.Lock()
RESOURCES = []
FAIL = []
CALLS = []
ARGS = None
PROPS = {"resourceType", "resourceId", "awsRegion", "accountId", "tags.tag", "tags.key", "tags.value"}
COND = re.compile(r"\s*([A-Za-z.]+)\s*=\s*'([^']*)'\s*")


def parse(expr):
    """(selected properties, conditions) or raises ValueError naming what is wrong."""
    if len(expr) > 4096:
        raise ValueError("the expression is longer than 4096 characters")
    m = re.fullmatch(r"\s*SELECT\s+(.+?)\s+WHERE\s+(.+)", expr, re.S)
    if not m:
        raise ValueError("expected SELECT <properties> WHERE <conditions>")
    fields = [f.strip() for f in m.group(1).split(",")]
    conds = []
    for part in re.split(r"\s+AND\s+", m.group(2)):
        c = COND.fullmatch(part)
        if not c or c.group(1) not in PROPS:
            raise ValueError(f"cannot evaluate condition {part!r}")
        conds.append((c.group(1), c.group(2)))
    return fields, conds


def matches(r, prop, lit):
    tags = r["tags"]
    if prop == "resourceType":
        return lit == "AWS::EC2::Instance"
    if prop in ("resourceId", "awsRegion", "accountId"):
        return r[prop] == lit
    # The any-element rule: each condition on its own, against every tag.
    if prop == "tags.tag":
        return any(f"{k}={v}" == lit for k, v in tags.items())
    if prop == "tags.key":
        return lit in tags
    return lit in tags.values()


def row(r, fields):
    out = {}
    for f in fields:
        if f == "tags":
            out["tags"] = [{"key": k, "value": v, "tag": f"{k}={v}"} for k, v in sorted(r["tags"].items())]
        elif f in r:
            out[f] = r[f]
    return json.dumps(out)


class Handler(JsonHandler):

    def do_GET(self):
        if self.path == "/_control/state":
            with LOCK:
                return self.reply(200, {"calls": CALLS})
        self.error(404, "UnknownOperationException", "not found")

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.startswith("/_control/"):
            return self.control(json.loads(body or b"{}"))
        problem, region = check_sigv4(self, body, ARGS.access_key, ARGS.secret_key, "config")
        if problem:
            return self.error(*problem)
        target = self.headers.get("X-Amz-Target", "")
        if not target.startswith("StarlingDoveService."):
            return self.error(400, "UnknownOperationException", f"unknown target {target!r}")
        op = target[len("StarlingDoveService."):]
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
        if op == "SelectResourceConfig":
            accounts = {ARGS.account}
        elif op == "SelectAggregateResourceConfig":
            if req.get("ConfigurationAggregatorName") != ARGS.aggregator:
                return self.error(400, "NoSuchConfigurationAggregatorException", "no such aggregator")
            accounts = None
        else:
            return self.error(400, "InvalidAction", f"{op} is not served by this stand-in")
        limit = req.get("Limit", 100)
        if not isinstance(limit, int) or not 0 <= limit <= 100:
            return self.error(400, "InvalidLimitException", "Limit must be 0-100")
        try:
            fields, conds = parse(req.get("Expression", ""))
        except ValueError as e:
            return self.error(400, "InvalidExpressionException", str(e))
        with LOCK:
            rows = [r for r in RESOURCES if (accounts is None or r["accountId"] in accounts)
                    and all(matches(r, p, l) for p, l in conds)]
        rows.sort(key=lambda r: (r["accountId"], r["awsRegion"], r["resourceId"]))
        start = int(req.get("NextToken") or 0)
        page = rows[start:start + (limit or 100)]
        out = {"Results": [row(r, fields) for r in page],
               "QueryInfo": {"SelectFields": [{"Name": f} for f in fields]}}
        if start + len(page) < len(rows):
            out["NextToken"] = str(start + len(page))
        self.reply(200, out)

    def control(self, req):
        with LOCK:
            if self.path == "/_control/resources":
                RESOURCES.extend(req)
            elif self.path == "/_control/fail":
                FAIL.append({"operation": req["operation"], "status": req["status"], "type": req["type"],
                             "count": req.get("count", 1)})
            elif self.path == "/_control/select":
                try:
                    _, conds = parse(req["Expression"])
                except ValueError as e:
                    return self.error(400, "InvalidExpressionException", str(e))
                ids = sorted(r["resourceId"] for r in RESOURCES if all(matches(r, p, l) for p, l in conds))
                return self.reply(200, {"ids": ids})
            else:
                return self.error(404, "UnknownOperationException", "not found")
        self.reply(200, {})


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--access-key", required=True)
    ap.add_argument("--secret-key", required=True)
    ap.add_argument("--account", required=True)
    ap.add_argument("--aggregator", required=True)
    ARGS = ap.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(f"listening on {srv.server_address[1]}", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
