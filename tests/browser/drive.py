#!/usr/bin/python3
"""Headless Chromium (Debian chromium + chromium-driver, through Selenium) on sesame's
browser pages, with a loopback service provider standing in for AWS sign-in.

1. Starts the SP: HTTPS on 127.0.0.1 (a self-signed certificate made with openssl; the
   browser is told to accept it), POST /saml validated by OneLogin's python3-saml in
   strict mode (signed assertion required, audience, destination and validity checked
   against the real clock); it answers a page naming the verdict and the attributes.
   Prints "sp <ACS URL>" and waits for one JSON line on stdin:
   {"idp_entity_id", "audience", "cert_pem", "pages": [{"html", "csp"}, ...]}
2. Serves each page as a portal would pass sesame's answer on — the HTML body with the
   Content-Security-Policy sesame sent — at http://127.0.0.1:<port>/page/<n>.
3. Loads each page in the browser, waits for it to settle (the form posts itself), and
   prints one JSON line: [{"url", "title", "text", "csp_violations"}, ...].
"""
import json
import os
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

from onelogin.saml2.response import OneLogin_Saml2_Response
from onelogin.saml2.settings import OneLogin_Saml2_Settings
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CONF = {}


def verdict(b64, acs_url):
    settings = OneLogin_Saml2_Settings(
        {
            "strict": True,
            "sp": {
                "entityId": CONF["audience"],
                "assertionConsumerService": {"url": acs_url, "binding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"},
            },
            "idp": {
                "entityId": CONF["idp_entity_id"],
                "singleSignOnService": {"url": "https://sesame.invalid/sso",
                                        "binding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"},
                "x509cert": CONF["cert_pem"],
            },
            "security": {"wantAssertionsSigned": True, "wantNameId": True, "wantAttributeStatement": True,
                         "requestedAuthnContext": False},
        },
        sp_validation_only=True,
    )
    request_data = {"https": "on", "http_host": "127.0.0.1", "server_port": str(SP_PORT),
                    "script_name": "/saml", "get_data": {}, "post_data": {}}
    try:
        r = OneLogin_Saml2_Response(settings, b64)
        r.is_valid(request_data, raise_exceptions=True)
        return True, None, r.get_attributes()
    except Exception as e:
        return False, f"{type(e).__name__}: {e}", {}


class Sp(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_POST(self):
        form = parse_qs(self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode())
        ok, err, attrs = verdict(form.get("SAMLResponse", [""])[0], ACS)
        relay = form.get("RelayState", [""])[0]
        body = (f"<html><head><title>SP: {'valid' if ok else 'invalid'}</title></head><body>"
                f"<h1>{'valid' if ok else 'invalid'}</h1><p id=error>{err or ''}</p>"
                f"<p id=relay>{relay}</p><pre id=attributes>{json.dumps(attrs, sort_keys=True)}</pre>"
                "</body></html>").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Portal(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_GET(self):
        n = int(self.path.rsplit("/", 1)[-1])
        page = CONF["pages"][n]
        body = page["html"].encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Security-Policy", page["csp"])
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def serve(server):
    threading.Thread(target=server.serve_forever, daemon=True).start()


def main():
    global SP_PORT, ACS
    work = tempfile.mkdtemp()
    key, crt = os.path.join(work, "sp.key"), os.path.join(work, "sp.crt")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", crt,
                    "-days", "1", "-subj", "/CN=127.0.0.1"], check=True, capture_output=True)
    sp = ThreadingHTTPServer(("127.0.0.1", 0), Sp)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(crt, key)
    sp.socket = ctx.wrap_socket(sp.socket, server_side=True)
    SP_PORT = sp.server_address[1]
    ACS = f"https://127.0.0.1:{SP_PORT}/saml"
    serve(sp)
    print(f"sp {ACS}", flush=True)
    CONF.update(json.loads(sys.stdin.readline()))
    portal = ThreadingHTTPServer(("127.0.0.1", 0), Portal)
    serve(portal)
    opts = webdriver.ChromeOptions()
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--ignore-certificate-errors", f"--user-data-dir={work}/profile"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    out = []
    try:
        for n in range(len(CONF["pages"])):
            driver.get(f"http://127.0.0.1:{portal.server_address[1]}/page/{n}")
            deadline = time.time() + 5
            while time.time() < deadline and "/page/" in driver.current_url and "<form" in CONF["pages"][n]["html"]:
                time.sleep(0.1)
            time.sleep(0.3)
            logs = [e["message"] for e in driver.get_log("browser") if "Content Security Policy" in e["message"]]
            out.append({"url": driver.current_url, "title": driver.title,
                        "text": driver.find_element("tag name", "body").text, "csp_violations": logs})
    finally:
        driver.quit()
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
