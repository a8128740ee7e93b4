#!/usr/bin/env python3
"""Check a sesame audit hash chain with the standard library only (docs/audit-format.md).

usage: audit-chain-check.py FILE...   (one replica's files, in name order)
Prints "ok: N records, head H" or the first broken record, and exits 0 or 1.
Checkpoint signatures are checked with openssl as the document shows; this script
checks sequence numbers and hash links.
"""
import hashlib
import json
import sys

GENESIS = "0" * 64


def main(paths):
    prev, expected, count = None, None, 0
    for path in sorted(paths):
        with open(path, "rb") as f:
            data = f.read()
        if data and not data.endswith(b"\n"):
            print(f"{path}: the last line is cut off (truncated)")
            return 1
        for n, line in enumerate(data.split(b"\n")[:-1], start=1):
            rec = json.loads(line)
            if expected is None:
                expected = rec["seq"] if rec["prev"] != GENESIS else 1
            if rec["seq"] != expected:
                print(f"{path}:{n}: seq {rec['seq']} where {expected} was expected")
                return 1
            if prev is not None and rec["prev"] != prev:
                print(f"{path}:{n}: prev does not match the hash of record {expected - 1}")
                return 1
            prev = hashlib.sha256(line).hexdigest()
            expected += 1
            count += 1
    print(f"ok: {count} records, head {prev}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
