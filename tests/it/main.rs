//! The single integration-test binary. Each module is one area; real parts only
//! (xmlsec1, python3-saml, the real binary, real files).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

mod access; // the launcher's view: as decide decides, instances and links, pages, errors, OpenAPI
mod accounts; // many accounts: the rules, the role per instance, the role picker, every account's policies and the StackSet
mod ad; // Active Directory behaviour against a real Samba AD DC
mod audit; // one record per decision, group commit, rotation, recovery
mod audit_cli; // search, show, kill -9 and disk-full runs of the real binary
mod audit_verify; // verify names each kind of tampering; common tools agree
mod audit_verify_chunks; // verify across read chunks, long lines, seq range ends
mod browser; // sesame's pages in headless Chromium: the form posts itself to a strict python3-saml SP; the closed page
mod cli; // the sesame binary: demo outcomes, bad input, exit codes
mod config; // configuration validation names the field and the rule
mod config_query; // AWS Config expressions: whole tag pairs, the charset, no injection, the length limit
mod decide; // table cases and properties of the pure decision core
mod dsig; // the canonical signer agrees with libxmlsec1, byte for byte
mod encryption; // encrypted assertions, decrypted by xmlsec1
mod example_config; // policies/sesame.example.toml is valid
mod firecall; // break-glass grants: cap, eligibility, webhook, the reaper, review
mod http; // sesame serve end to end over mutual TLS
mod iam; // IAM policies match what the minter emits; sizes and splitting
mod iam_eval; // the generated policy evaluated: own sessions, someone else's, the sentinel Deny
mod iam_revoke; // the Deny on issued credentials: merged, pruned, collapsed, evaluated
mod ids; // user, instance and region syntax
mod inventory_config; // AWS Config through the SDK and a stand-in: any-element rule, pages, accounts, throttling, cache
mod keys; // key generation, permissions, mismatched certificates
mod layers; // the dependency table of ARCHITECTURE.md, enforced; no cycles between modules
mod ldap; // the LDAP directory against a real OpenLDAP server
mod least_privilege; // require_known_instance and when_all_closed: the core's properties, the binary, the server
mod metadata; // IdP metadata shape and schema validity
mod notify; // signed webhooks from the reaper to a loopback receiver
mod openapi; // docs/openapi.json against real responses
mod pg; // fixture: a database of its own on the real PostgreSQL, replicas on it
mod postgres; // replicas on one PostgreSQL: shared grants, per-replica chains, migrations, rights
mod postgres_fail; // the database down, read-only, slow, full; unknown COMMITs; kill -9 under load
mod reap; // properties of the reaper's plan: nothing early, revocations only forward, order-free
mod reaper; // the session reaper against a Session Manager stand-in spoken to by the AWS SDK
mod reconcile; // CloudTrail sign-ins against the assertion log: a clean month, every alert kind, bad files
mod reconcile_props; // the JSON stream hands over every element; alerts independent of order and overlap
mod regression; // one test per defect found, named after its issue
mod regression_audit; // the same, for the audit log
mod regression_http; // the same, for the HTTP edge
mod revoke_creds; // the Deny on issued credentials through aws-sdk-iam and an IAM stand-in
mod rotation; // key rotation without downtime, expiry warnings
mod route; // session logs per tenant, with and without the inventory; what stays unattributed
mod samael; // samael's SAML model reads what sesame decided, in responses and metadata
mod saml_golden; // byte-stable signed responses
mod server; // fixture: the real server and HTTPS clients with certificates
mod tags; // AWS session-tag rules and numbered names
mod tidy; // repository rules: module docs, file length, clock and unsafe
mod validators; // xmlsec1 and python3-saml accept every response, reject tampered ones
mod window; // schedules and daylight-saving rules
