//! The generated permission policy evaluated as IAM evaluates identity policies
//! (an explicit Deny wins, else any Allow, else the implicit deny): Action and
//! Resource wildcards (`*`, `?`), policy variables (`${aws:userid}`,
//! `${aws:PrincipalTag/…}`; a variable with no value makes its statement not match),
//! and the condition operators sesame emits (StringEquals, StringLike, DateLessThan; a missing key
//! never matches). Any other operator fails the test, so the evaluator cannot pass a
//! policy it does not understand. It checks the own-sessions statement for a
//! federated person's own session and someone else's, and the sentinel Deny.

use std::collections::HashMap;

use serde_json::Value;
use sesame::core::TagSpec;
use sesame::iam::{permission_policies, Scope};

#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    ExplicitDeny,
    ImplicitDeny,
}

/// `*` any run, `?` one character.
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Substitutes `${key}` from the context; `None` when a variable has no value.
fn substitute(text: &str, ctx: &HashMap<String, String>) -> Option<String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("${") {
        out.push_str(&rest[..i]);
        let end = rest[i..].find('}').map(|e| i + e)?;
        out.push_str(ctx.get(&rest[i + 2..end])?);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a.iter().map(|x| x.as_str().unwrap().to_owned()).collect(),
        other => panic!("not a string or list: {other}"),
    }
}

fn conditions_hold(cond: &Value, ctx: &HashMap<String, String>) -> bool {
    let Some(ops) = cond.as_object() else { return true };
    ops.iter().all(|(op, keys)| {
        keys.as_object().unwrap().iter().all(|(key, values)| {
            let Some(actual) = ctx.get(key) else { return false };
            strings(values).iter().filter_map(|v| substitute(v, ctx)).any(|v| match op.as_str() {
                "StringEquals" => *actual == v,
                "StringLike" => glob(&v, actual),
                // RFC 3339 instants in one format compare as text.
                "DateLessThan" => *actual < v,
                other => panic!("the evaluator does not know condition operator {other}"),
            })
        })
    })
}

pub fn evaluate(policies: &[Value], action: &str, resource: &str, ctx: &HashMap<String, String>) -> Verdict {
    let (mut allow, mut deny) = (false, false);
    for st in policies.iter().flat_map(|p| p["Statement"].as_array().unwrap()) {
        let acts = strings(&st["Action"]);
        if !acts.iter().any(|a| glob(&a.to_ascii_lowercase(), &action.to_ascii_lowercase())) {
            continue;
        }
        let res = strings(&st["Resource"]);
        if !res.iter().filter_map(|r| substitute(r, ctx)).any(|r| glob(&r, resource)) {
            continue;
        }
        if !conditions_hold(&st["Condition"], ctx) {
            continue;
        }
        match st["Effect"].as_str().unwrap() {
            "Allow" => allow = true,
            "Deny" => deny = true,
            other => panic!("effect {other}"),
        }
    }
    if deny {
        Verdict::ExplicitDeny
    } else if allow {
        Verdict::Allow
    } else {
        Verdict::ImplicitDeny
    }
}

fn spec(n: usize) -> TagSpec {
    crate::iam::spec(&crate::iam::DEFAULT, n)
}

fn policies(n: usize) -> Vec<Value> {
    let scope = Scope { account: "111122223333".into(), region: "*".into(), partition: "aws".into() };
    permission_policies(&spec(n), &scope).unwrap()
}

pub fn ctx(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

const ROLE_ID: &str = "AROAEXAMPLEROLEID1234";
const SESSION_ARN: &str = "arn:aws:ssm:us-east-1:111122223333:session/";

#[test]
fn the_glob_and_variables_behave_as_iam_documents() {
    assert!(glob("arn:aws:ssm:*:111122223333:session/*", "arn:aws:ssm:eu-west-1:111122223333:session/a-1"));
    assert!(!glob("session/a-*", "session/b-1"));
    assert!(glob("a?c", "abc") && !glob("a?c", "ac"));
    let c = ctx(&[("aws:userid", "X:alice")]);
    assert_eq!(substitute("session/${aws:userid}-*", &c).as_deref(), Some("session/X:alice-*"));
    assert_eq!(substitute("${aws:PrincipalTag/AppId}", &c), None);
}

#[test]
fn a_federated_person_may_end_and_resume_their_own_sessions_and_no_one_elses() {
    let p = policies(4);
    let me = format!("{ROLE_ID}:alice.0123456789ab");
    let own = format!("{SESSION_ARN}alice.0123456789ab-0a1b2c3d4e5f67890");
    let own_ctx = ctx(&[("aws:userid", &me), ("ssm:resourceTag/aws:ssmmessages:session-id", &me)]);
    for action in ["ssm:TerminateSession", "ssm:ResumeSession"] {
        assert_eq!(
            evaluate(&p, action, &own, &own_ctx),
            Verdict::Allow,
            "{action} on the person's own session"
        );
    }
    let bob = format!("{ROLE_ID}:bob.fedcba987654");
    let other = format!("{SESSION_ARN}bob.fedcba987654-0fedcba9876543210");
    let other_ctx = ctx(&[("aws:userid", &me), ("ssm:resourceTag/aws:ssmmessages:session-id", &bob)]);
    for action in ["ssm:TerminateSession", "ssm:ResumeSession"] {
        assert_eq!(
            evaluate(&p, action, &other, &other_ctx),
            Verdict::ImplicitDeny,
            "{action} on bob's session"
        );
    }
    // A session tagged by a prefix of the person's ID is someone else's too.
    let prefix_ctx =
        ctx(&[("aws:userid", &me), ("ssm:resourceTag/aws:ssmmessages:session-id", &format!("{me}x"))]);
    assert_eq!(evaluate(&p, "ssm:TerminateSession", &other, &prefix_ctx), Verdict::ImplicitDeny);
    // The statement this replaced never matched a federated person's own session.
    let old = serde_json::json!([{"Statement": [{
        "Effect": "Allow",
        "Action": ["ssm:TerminateSession", "ssm:ResumeSession"],
        "Resource": "arn:aws:ssm:*:111122223333:session/${aws:userid}-*",
    }]}]);
    let old: Vec<Value> = old.as_array().unwrap().clone();
    assert_eq!(evaluate(&old, "ssm:TerminateSession", &own, &own_ctx), Verdict::ImplicitDeny);
}

#[test]
fn a_sentinel_copied_onto_an_instance_is_denied_and_open_sets_still_work() {
    let p = policies(2);
    let sentinel = "sesame:closed:0123456789abcdef0123456789abcdef";
    let instance = "arn:aws:ec2:us-east-1:111122223333:instance/i-0123456789abcdef0";
    let document = "arn:aws:ssm:us-east-1:111122223333:document/SSM-SessionManagerRunShell";
    // Set 1 closed (sentinel in each of its tags), set 2 open.
    let principal = [
        ("aws:PrincipalTag/AppGroupName", sentinel),
        ("aws:PrincipalTag/AppId", sentinel),
        ("aws:PrincipalTag/ReleaseId", sentinel),
        ("aws:PrincipalTag/AppGroupName2", "web"),
        ("aws:PrincipalTag/AppId2", "WEB01"),
        ("aws:PrincipalTag/ReleaseId2", "R1"),
    ];
    let with = |tags: &[(&str, &str)]| {
        let mut c = ctx(&principal);
        c.extend(tags.iter().map(|(k, v)| (format!("ssm:resourceTag/{k}"), (*v).to_owned())));
        c
    };
    let web = with(&[("APP_GROUP_NAME", "web"), ("APP_ID", "WEB01"), ("RELEASE_ID", "R1")]);
    assert_eq!(evaluate(&p, "ssm:StartSession", instance, &web), Verdict::Allow, "the open set");
    assert_eq!(evaluate(&p, "ssm:StartSession", document, &ctx(&principal)), Verdict::Allow, "the document");
    let forged = with(&[("APP_GROUP_NAME", sentinel), ("APP_ID", sentinel), ("RELEASE_ID", sentinel)]);
    assert_eq!(
        evaluate(&p, "ssm:StartSession", instance, &forged),
        Verdict::ExplicitDeny,
        "a copied sentinel"
    );
    let other = with(&[("APP_GROUP_NAME", "payments"), ("APP_ID", "PAY01"), ("RELEASE_ID", "R9")]);
    assert_eq!(evaluate(&p, "ssm:StartSession", instance, &other), Verdict::ImplicitDeny);
}

#[test]
fn the_reaper_may_list_and_end_sessions_and_nothing_else() {
    let scope = Scope { account: "111122223333".into(), region: "*".into(), partition: "aws".into() };
    let p = vec![sesame::iam::reaper_policy(&scope, None)];
    let none = ctx(&[]);
    let session = format!("{SESSION_ARN}carol.0123456789ab-0a1b2c3d4e5f67890");
    assert_eq!(evaluate(&p, "ssm:DescribeSessions", "*", &none), Verdict::Allow);
    assert_eq!(evaluate(&p, "ssm:TerminateSession", &session, &none), Verdict::Allow);
    let other_account = "arn:aws:ssm:us-east-1:444455556666:session/x-0a";
    assert_eq!(evaluate(&p, "ssm:TerminateSession", other_account, &none), Verdict::ImplicitDeny);
    for (action, resource) in [
        ("ssm:StartSession", "arn:aws:ec2:us-east-1:111122223333:instance/i-0123456789abcdef0"),
        ("ssm:ResumeSession", session.as_str()),
        ("iam:PutRolePolicy", "arn:aws:iam::111122223333:role/sesame-session-manager"),
        ("logs:GetLogEvents", "*"),
    ] {
        assert_eq!(evaluate(&p, action, resource, &none), Verdict::ImplicitDeny, "{action}");
    }
}

#[test]
fn with_credential_revocation_the_reaper_may_touch_only_sesames_inline_policy_on_the_role() {
    let scope = Scope { account: "111122223333".into(), region: "*".into(), partition: "aws".into() };
    let role = "arn:aws:iam::111122223333:role/sesame-session-manager";
    let p = vec![sesame::iam::reaper_policy(&scope, Some(role))];
    let ours = ctx(&[("iam:PolicyName", "sesame-revoked-sessions")]);
    let other = ctx(&[("iam:PolicyName", "admin")]);
    for action in ["iam:GetRolePolicy", "iam:PutRolePolicy", "iam:DeleteRolePolicy"] {
        assert_eq!(evaluate(&p, action, role, &ours), Verdict::Allow, "{action}");
        assert_eq!(evaluate(&p, action, role, &other), Verdict::ImplicitDeny, "{action} on another policy");
        assert_eq!(
            evaluate(&p, action, "arn:aws:iam::111122223333:role/other", &ours),
            Verdict::ImplicitDeny
        );
    }
    assert_eq!(evaluate(&p, "iam:AttachRolePolicy", role, &ours), Verdict::ImplicitDeny);
}
