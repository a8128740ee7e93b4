#!/usr/bin/env python3
"""The peer IdP for the side-by-side figure of the performance issue: pysaml2 (PyPI),
configured as an IdP, mints the same IdP-initiated AWS Response as sesame — the same
Issuer, NameID, audience, recipient, Role/RoleSessionName/SessionDuration/
SourceIdentity and PrincipalTag attributes, read from a sesame golden response — with
the Assertion signed (RSA-SHA256, exclusive c14n) by the same key.

Run by scripts/bench-load inside a virtualenv with pysaml2; prints one JSON line:
{"count", "seconds", "per_second", "cpu_seconds", "per_cpu_second"}. The last response
is written to --out so the caller can check it with xmlsec1.

Usage: pysaml2_idp.py --golden FILE --key PEM --cert PEM --seconds S --out FILE
"""
import argparse
import json
import os
import re
import tempfile
import time

from saml2 import BINDING_HTTP_POST
from saml2.config import IdPConfig
from saml2.saml import NAME_FORMAT_URI, NAMEID_FORMAT_PERSISTENT, NameID
from saml2.server import Server

SP_METADATA = """<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="urn:amazon:webservices">
  <md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:AssertionConsumerService index="1" isDefault="true"
      Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="{acs}"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>
"""


def golden_parts(path):
    """Issuer, ACS URL, NameID and the attributes (name -> [value]) of a sesame response."""
    text = open(path, encoding="utf-8").read()
    issuer = re.search(r"<saml:Issuer[^>]*>([^<]*)</saml:Issuer>", text).group(1)
    acs = re.search(r'Destination="([^"]*)"', text).group(1)
    name_id = re.search(r"<saml:NameID[^>]*>([^<]*)</saml:NameID>", text).group(1)
    attrs = {}
    for name, value in re.findall(
        r'<saml:Attribute Name="([^"]*)"><saml:AttributeValue>([^<]*)</saml:AttributeValue>', text
    ):
        attrs.setdefault(name, []).append(value)
    return issuer, acs, name_id, attrs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--golden", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()

    issuer, acs, user, attrs = golden_parts(a.golden)
    work = tempfile.mkdtemp(prefix="pysaml2-peer-")
    sp_md = os.path.join(work, "aws-sp.xml")
    with open(sp_md, "w", encoding="utf-8") as f:
        f.write(SP_METADATA.format(acs=acs))
    conf = IdPConfig()
    conf.load(
        {
            "entityid": issuer,
            "key_file": a.key,
            "cert_file": a.cert,
            "xmlsec_binary": "/usr/bin/xmlsec1",
            "metadata": {"local": [sp_md]},
            "service": {
                "idp": {
                    "endpoints": {"single_sign_on_service": [(issuer + "/sso", BINDING_HTTP_POST)]},
                    "policy": {"default": {"lifetime": {"minutes": 60}, "name_form": NAME_FORMAT_URI}},
                    "name_id_format": [NAMEID_FORMAT_PERSISTENT],
                    "sign_assertion": True,
                    "sign_response": False,
                    "signing_algorithm": "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
                    "digest_algorithm": "http://www.w3.org/2001/04/xmlenc#sha256",
                }
            },
        }
    )
    idp = Server(config=conf)
    name_id = NameID(format=NAMEID_FORMAT_PERSISTENT, text=user)
    authn = {"class_ref": "urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified", "authn_auth": issuer}

    def mint():
        return idp.create_authn_response(
            identity=attrs,
            in_response_to=None,
            destination=acs,
            sp_entity_id="urn:amazon:webservices",
            name_id=name_id,
            authn=authn,
            sign_assertion=True,
            sign_response=False,
        )

    mint()  # warm-up: metadata, converters, first xmlsec1 start
    count, last = 0, None
    t0, c0 = time.monotonic(), os.times()
    while time.monotonic() - t0 < a.seconds:
        last = mint()
        count += 1
    secs, c1 = time.monotonic() - t0, os.times()
    cpu = (c1.user - c0.user) + (c1.system - c0.system) + (c1.children_user - c0.children_user) + (
        c1.children_system - c0.children_system
    )
    with open(a.out, "w", encoding="utf-8") as f:
        f.write(str(last))
    print(
        json.dumps(
            {
                "count": count,
                "seconds": round(secs, 3),
                "per_second": round(count / secs, 1),
                "cpu_seconds": round(cpu, 3),
                "per_cpu_second": round(count / cpu, 1) if cpu > 0 else None,
            }
        )
    )


if __name__ == "__main__":
    main()
