//! The Deny on issued credentials (`iam::revoke::merge`), evaluated: a revoked
//! person's sessions issued before the revocation are denied, later ones and other
//! people's are not; later revocations move the time forward; statements older than
//! the maximum session are pruned; past the size budget the statements collapse into
//! one Deny that revokes more, never less.

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::Value;
use sesame::iam::iam_size;
use sesame::iam::revoke::{merge, INLINE_LIMIT};

use crate::iam_eval::{ctx, evaluate, Verdict};

fn t(s: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000 + s, 0).single().unwrap()
}

fn iso(d: DateTime<Utc>) -> String {
    d.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The verdict for any action of `who`'s session issued at `issued`.
fn verdict(doc: &Value, who: &str, issued: DateTime<Utc>) -> Verdict {
    let c = ctx(&[("aws:SourceIdentity", who), ("aws:TokenIssueTime", &iso(issued))]);
    evaluate(
        std::slice::from_ref(doc),
        "ssm:StartSession",
        "arn:aws:ec2:us-east-1:111122223333:instance/i-0123456789abcdef0",
        &c,
    )
}

const HOUR: i64 = 3600;

#[test]
fn a_revoked_persons_earlier_sessions_are_denied_and_nothing_else() {
    let keep = Duration::hours(1);
    let m = merge(None, &[("alice".into(), t(100))], t(100), keep, INLINE_LIMIT);
    let doc = m.doc.unwrap();
    assert_eq!(verdict(&doc, "alice", t(99)), Verdict::ExplicitDeny);
    assert_eq!(verdict(&doc, "alice", t(100)), Verdict::ImplicitDeny, "issued at or after the revocation");
    assert_eq!(verdict(&doc, "bob", t(99)), Verdict::ImplicitDeny);
    // A later revocation of alice moves her time; bob's is added beside it.
    let m =
        merge(Some(&doc), &[("alice".into(), t(200)), ("bob".into(), t(150))], t(200), keep, INLINE_LIMIT);
    let doc = m.doc.unwrap();
    assert_eq!(doc["Statement"].as_array().unwrap().len(), 2);
    assert_eq!(verdict(&doc, "alice", t(199)), Verdict::ExplicitDeny);
    assert_eq!(verdict(&doc, "bob", t(149)), Verdict::ExplicitDeny);
    assert_eq!(verdict(&doc, "bob", t(151)), Verdict::ImplicitDeny);
    // An older revocation never moves a time back.
    let again = merge(Some(&doc), &[("alice".into(), t(50))], t(200), keep, INLINE_LIMIT).doc.unwrap();
    assert_eq!(verdict(&again, "alice", t(199)), Verdict::ExplicitDeny);
}

#[test]
fn statements_are_pruned_once_the_maximum_session_has_passed() {
    let keep = Duration::hours(1);
    let doc = merge(None, &[("alice".into(), t(0)), ("bob".into(), t(HOUR))], t(HOUR), keep, INLINE_LIMIT)
        .doc
        .unwrap();
    let m = merge(Some(&doc), &[], t(HOUR + 10), keep, INLINE_LIMIT);
    assert_eq!(m.pruned, 1);
    let d = m.doc.unwrap();
    assert_eq!(verdict(&d, "alice", t(-1)), Verdict::ImplicitDeny, "alice's credentials have all expired");
    assert_eq!(verdict(&d, "bob", t(HOUR - 1)), Verdict::ExplicitDeny);
    let gone = merge(Some(&d), &[], t(3 * HOUR), keep, INLINE_LIMIT);
    assert_eq!((gone.doc, gone.pruned), (None, 1), "nothing left: the policy is deleted");
}

#[test]
fn past_the_size_budget_statements_collapse_and_revoke_more_never_less() {
    let keep = Duration::hours(12);
    let mut doc: Option<Value> = None;
    let mut collapsed_at = None;
    for i in 0..200 {
        let m = merge(doc.as_ref(), &[(format!("user{i:03}@corp.example"), t(i))], t(i), keep, INLINE_LIMIT);
        let d = m.doc.unwrap();
        assert!(iam_size(&d) <= INLINE_LIMIT, "{} characters", iam_size(&d));
        if m.collapsed && collapsed_at.is_none() {
            collapsed_at = Some(i);
        }
        doc = Some(d);
    }
    let at = collapsed_at.expect("200 statements cannot fit 10,240 characters");
    assert!(at > 20, "collapsed only when full (at {at})");
    let d = doc.unwrap();
    // Everyone revoked is still denied for earlier sessions.
    for i in 0..200 {
        assert_eq!(
            verdict(&d, &format!("user{i:03}@corp.example"), t(i - 1)),
            Verdict::ExplicitDeny,
            "user {i}"
        );
    }
    // After the collapse a new revocation is its own statement again.
    let m = merge(Some(&d), &[("late".into(), t(1000))], t(1000), keep, INLINE_LIMIT);
    let d2 = m.doc.unwrap();
    assert!(!m.collapsed);
    assert_eq!(verdict(&d2, "late", t(999)), Verdict::ExplicitDeny);
    assert_eq!(verdict(&d2, "someone", t(150)), Verdict::ExplicitDeny, "the collapsed Deny stays");
    assert_eq!(verdict(&d2, "someone", t(500)), Verdict::ImplicitDeny);
}
