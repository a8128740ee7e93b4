#!/usr/bin/python3
"""Validate SAML Responses and IdP metadata with OneLogin's python3-saml toolkit.

Configured as AWS's service provider would be: strict mode, signed assertions
required, audience and ACS URL as AWS uses them. Used by tests/it/validators.rs.

stdin: JSON {"mode": "responses", "idp_entity_id", "acs_url", "audience", "cert_pem",
              "now": <unix seconds>, "responses": [<base64 SAMLResponse>, ...]}
    or  {"mode": "metadata", "documents": [<xml text>, ...]}
stdout: JSON list, one result per input:
    {"valid": bool, "error": str|null, "name_id": str|null, "attributes": {name: [values]}}
"""
import json
import sys
from urllib.parse import urlparse

from onelogin.saml2.response import OneLogin_Saml2_Response
from onelogin.saml2.settings import OneLogin_Saml2_Settings
from onelogin.saml2.utils import OneLogin_Saml2_Utils
from onelogin.saml2.xml_utils import OneLogin_Saml2_XML


def check_responses(req):
    now = int(req["now"])
    # Pin the SP's clock to the instant the test minted at.
    OneLogin_Saml2_Utils.now = staticmethod(lambda: now)
    acs = urlparse(req["acs_url"])
    settings = OneLogin_Saml2_Settings(
        {
            "strict": True,
            "debug": False,
            "sp": {
                "entityId": req["audience"],
                "assertionConsumerService": {
                    "url": req["acs_url"],
                    "binding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST",
                },
                "NameIDFormat": "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
            },
            "idp": {
                "entityId": req["idp_entity_id"],
                "singleSignOnService": {
                    "url": "https://sesame.invalid/sso",
                    "binding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect",
                },
                "x509cert": req["cert_pem"],
            },
            "security": {
                "wantAssertionsSigned": True,
                "wantMessagesSigned": bool(req.get("want_response_signed", False)),
                "wantNameId": True,
                "wantAttributeStatement": True,
                "requestedAuthnContext": False,
                "signatureAlgorithm": "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
                "digestAlgorithm": "http://www.w3.org/2001/04/xmlenc#sha256",
            },
        },
        sp_validation_only=True,
    )
    request_data = {
        "https": "on",
        "http_host": acs.hostname,
        "server_port": "443",
        "script_name": acs.path,
        "get_data": {},
        "post_data": {},
    }
    out = []
    for b64 in req["responses"]:
        try:
            resp = OneLogin_Saml2_Response(settings, b64)
            valid = resp.is_valid(request_data, raise_exceptions=True)
            out.append(
                {
                    "valid": bool(valid),
                    "error": resp.get_error(),
                    "name_id": resp.get_nameid(),
                    "attributes": resp.get_attributes(),
                }
            )
        except Exception as e:  # every failure is a rejection, reported by message
            out.append({"valid": False, "error": f"{type(e).__name__}: {e}", "name_id": None, "attributes": {}})
    return out


def check_metadata(req):
    out = []
    for doc in req["documents"]:
        res = OneLogin_Saml2_XML.validate_xml(doc, "saml-schema-metadata-2.0.xsd", False)
        if isinstance(res, str):
            out.append({"valid": False, "error": res, "name_id": None, "attributes": {}})
        else:
            out.append({"valid": True, "error": None, "name_id": None, "attributes": {}})
    return out


def main():
    req = json.load(sys.stdin)
    if req["mode"] == "responses":
        result = check_responses(req)
    elif req["mode"] == "metadata":
        result = check_metadata(req)
    else:
        raise SystemExit(f"unknown mode {req['mode']!r}")
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
