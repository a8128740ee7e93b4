#!/usr/bin/python3
"""samba-seed.py SMB_CONF SVC_PW USER_PW — sesame's AD test tree, written straight into
sam.ldb before samba starts (one process, ~0.5 s). Debian's /usr/bin/python3 only: the
samba modules live there.

The tree mirrors tests/data/ldap/fixture.ldif where AD allows: alice, bob, carol, dave
(disabled) and "Doe, Jane"; pam-webserver, pam-payments (via payments-oncall), staff,
sre, oncall-emea (night) and PAM-db-DBX-4.2."""
import sys

import ldb
from samba.auth import system_session
from samba.param import LoadParm
from samba.samdb import SamDB

lp = LoadParm()
lp.load(sys.argv[1])
db = SamDB(url=lp.samdb_url(), session_info=system_session(), lp=lp)
base = str(db.domain_dn())
realm = lp.get("realm").lower()
svc_pw, user_pw = sys.argv[2], sys.argv[3]

for ou in ("Users", "Groups", "Services"):
    db.create_ou("OU=%s,%s" % (ou, base))
db.newuser("sesame", svc_pw, userou="OU=Services", description="sesame bind account")
for u, given, sn in (("alice", "Alice", "Anders"), ("bob", "Bob", "Berg"),
                     ("carol", "Carol", "Chen"), ("dave", "Dave", "Dunn"), ("jdoe", "Jane", "Doe")):
    db.newuser(u, user_pw, userou="OU=Users", givenname=given, surname=sn, useusernameascn=None,
               mailaddress="%s@%s" % (u, realm))
db.rename(ldb.Dn(db, "CN=Jane Doe,OU=Users,%s" % base), ldb.Dn(db, "CN=Doe\\, Jane,OU=Users,%s" % base))
db.disable_account("(sAMAccountName=dave)")
groups = [("payments-oncall", ["alice"]),
          ("pam-payments", ["payments-oncall"]),
          ("pam-webserver", ["alice", "carol", "dave"]),
          ("staff", ["alice", "bob"]),
          ("oncall-emea (night)", ["carol", "jdoe"]),
          ("sre", ["bob", "oncall-emea (night)"]),
          ("PAM-db-DBX-4.2", ["sre"])]
for name, _ in groups:
    db.newgroup(name, groupou="OU=Groups")
for name, members in groups:
    db.add_remove_group_members(name, members, add_members_operation=True)
print("seeded %s" % base)
