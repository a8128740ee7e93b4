"""Signature Version 4 checking for the tests' AWS stand-ins: recomputes the signature
of a request from its method, path, query, signed headers and payload hash with the
configured secret key, as AWS does, and says why a request is refused."""

import hashlib
import hmac
import urllib.parse


def sign(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def check_sigv4(handler, body, access_key, secret_key, want_service):
    """None when the request carries a valid SigV4 signature for `want_service`; else
    (status, type, message). Returns the signed region too."""
    auth = handler.headers.get("Authorization")
    if not auth:
        return (400, "MissingAuthenticationTokenException", "Request is missing Authentication Token"), None
    if not auth.startswith("AWS4-HMAC-SHA256 "):
        return (400, "IncompleteSignatureException", "unsupported signature algorithm"), None
    parts = dict(p.strip().split("=", 1) for p in auth[len("AWS4-HMAC-SHA256 "):].split(","))
    try:
        akid, date, region, service, term = parts["Credential"].split("/")
        signed = parts["SignedHeaders"].split(";")
        signature = parts["Signature"]
    except (KeyError, ValueError):
        return (400, "IncompleteSignatureException", "malformed Authorization header"), None
    if akid != access_key:
        return (400, "UnrecognizedClientException", "The security token included in the request is invalid."), None
    if service != want_service or term != "aws4_request" or "host" not in signed:
        return (400, "IncompleteSignatureException", "wrong credential scope"), None
    amz_date = handler.headers.get("X-Amz-Date", "")
    if not amz_date.startswith(date):
        return (400, "IncompleteSignatureException", "X-Amz-Date does not match the credential scope"), None
    payload = hashlib.sha256(body).hexdigest()
    if handler.headers.get("X-Amz-Content-Sha256", payload) not in (payload, "UNSIGNED-PAYLOAD"):
        return (400, "IncompleteSignatureException", "payload hash mismatch"), None
    url = urllib.parse.urlsplit(handler.path)
    query = "&".join(sorted(
        f"{urllib.parse.quote(k, safe='-_.~')}={urllib.parse.quote(v, safe='-_.~')}"
        for k, v in urllib.parse.parse_qsl(url.query, keep_blank_values=True)))
    headers = "".join(f"{h}:{' '.join((handler.headers.get(h) or '').split())}\n" for h in signed)
    canonical = "\n".join(["POST", url.path or "/", query, headers, ";".join(signed),
                           handler.headers.get("X-Amz-Content-Sha256", payload)])
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, f"{date}/{region}/{service}/{term}",
                         hashlib.sha256(canonical.encode()).hexdigest()])
    k = sign(("AWS4" + secret_key).encode(), date)
    for part in (region, service, term):
        k = sign(k, part)
    want = hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(want, signature):
        return (403, "SignatureDoesNotMatch", "The request signature we calculated does not match"), None
    return None, region
