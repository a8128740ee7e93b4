//! Properties of the auditor's readers: the JSON stream hands over exactly the elements
//! of the arrays it was asked for, whatever the layout; the reconciler's alerts do not
//! depend on the order sign-ins are read in, nor on events read twice.

use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;
use serde_json::{json, Value};
use sesame::audit::record::sentinel_digest;
use sesame::forensics::cloudtrail::SignIn;
use sesame::forensics::json_stream::elements;
use sesame::forensics::minted::{Index, Minted, Released};
use sesame::forensics::reconcile::Reconciler;

const PROVIDER: &str = "arn:aws:iam::111122223333:saml-provider/sesame";
const SENTINEL: &str = "sesame:closed:0123456789abcdef0123456789abcdef";

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        "[ -~\\n\\t\"\\\\é€]{0,12}".prop_map(Value::from),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-z\"]{1,4}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn the_stream_hands_over_every_element_and_skips_the_rest(
        records in prop::collection::vec(value(), 0..6),
        other in value(),
        pretty in any::<bool>(),
    ) {
        let doc = json!({ "NextToken": other, "Records": records });
        let text = if pretty { serde_json::to_string_pretty(&doc) } else { serde_json::to_string(&doc) }.unwrap();
        let mut got = Vec::new();
        let keys = elements(text.as_bytes(), &["Records"], &mut |e| {
            got.push(serde_json::from_slice::<Value>(e.bytes).map_err(|err| (1, 0, err.to_string()))?);
            Ok(())
        })
        .unwrap();
        prop_assert_eq!(keys, vec!["Records".to_owned()]);
        prop_assert_eq!(got, records);
        // Any strict prefix is an error, never a success or a panic.
        let cut = text.len() / 2;
        if text.is_char_boundary(cut) && cut > 0 {
            prop_assert!(elements(&text.as_bytes()[..cut], &["Records"], &mut |_| Ok(())).is_err());
        }
    }
}

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-01T15:00:00Z").unwrap().to_utc()
}

fn index(n: usize) -> Index {
    let mut ix = Index::default();
    for i in 0..n {
        let tags = vec![
            ("AppId".to_owned(), Released::Value("PAY".to_owned())),
            ("AppId2".to_owned(), Released::Sentinel { digest: sentinel_digest(SENTINEL) }),
        ];
        ix.insert(Minted {
            assertion_id: format!("_A{i}"),
            replica: "local".into(),
            seq: i as u64,
            time: "2026-12-01T15:00:00Z".into(),
            user: "alice".into(),
            instance: "i-0fedcba9876543210".into(),
            region: "us-east-1".into(),
            role_session_name: Some(format!("alice.{i:012}")),
            session_duration: Some(3600),
            not_on_or_after: Some(t0() + Duration::minutes(5)),
            tags: Some(tags),
            sets: Vec::new(),
        });
    }
    ix
}

/// Sign-in `k` of assertion `which`, changed by `how` (0: as minted, 1: tags, 2: name,
/// 3: duration, 4: late, 5: forged, 6: refused, 7: another provider).
fn sign_in(k: usize, which: usize, how: u8) -> SignIn {
    let mut s = SignIn {
        event_id: format!("e{k}"),
        time: t0() + Duration::seconds(k as i64 % 200),
        source_ip: Some("192.0.2.10".into()),
        account: Some("111122223333".into()),
        region: Some("us-east-1".into()),
        provider: Some(PROVIDER.into()),
        role_arn: None,
        assertion_id: Some(format!("_A{which}")),
        role_session_name: Some(format!("alice.{which:012}")),
        source_identity: Some("alice".into()),
        principal_tags: [("AppId".to_owned(), "PAY".to_owned()), ("AppId2".to_owned(), SENTINEL.to_owned())]
            .into(),
        duration: Some(3600),
        access_key_id: Some(format!("ASIA{k}")),
        error_code: None,
        origin: format!("f#{k}"),
    };
    match how {
        // A real value changed, or the closed set's sentinel replaced by a real one.
        1 => {
            let (k, v) = if k.is_multiple_of(2) { ("AppId", "ABC") } else { ("AppId2", "PAY") };
            s.principal_tags.insert(k.into(), v.into());
        }
        2 => s.role_session_name = Some("mallory".into()),
        3 => s.duration = None,
        4 => s.time = t0() + Duration::minutes(6),
        5 => s.assertion_id = Some(format!("_forged{k}")),
        6 => s.error_code = Some("AccessDenied".into()),
        7 => s.provider = Some("arn:aws:iam::111122223333:saml-provider/other".into()),
        _ => {}
    }
    s
}

proptest! {
    #[test]
    fn alerts_do_not_depend_on_order_or_on_events_read_twice(
        plan in prop::collection::vec((0usize..6, 0u8..8), 1..40),
        again in prop::collection::vec(any::<prop::sample::Index>(), 0..10),
        order in any::<u64>(),
    ) {
        let ix = index(6);
        let events: Vec<SignIn> = plan.iter().enumerate().map(|(k, (w, h))| sign_in(k, *w, *h)).collect();
        let run = |input: &[SignIn]| {
            let mut r = Reconciler::new(&ix, [PROVIDER.to_owned()]);
            input.iter().cloned().for_each(|s| r.observe(s));
            r.finish()
        };
        let base = run(&events);
        // Shuffled (a fixed permutation from `order`) with some events read again.
        let mut mixed = events.clone();
        mixed.extend(again.iter().map(|i| events[i.index(events.len())].clone()));
        let n = mixed.len();
        for i in (1..n).rev() {
            let j = (order.wrapping_mul(6364136223846793005).wrapping_add(i as u64) % (i as u64 + 1)) as usize;
            mixed.swap(i, j);
        }
        let other = run(&mixed);
        prop_assert_eq!(base.by_kind(), other.by_kind());
        prop_assert_eq!(base.counts.accepted, other.counts.accepted);
        prop_assert_eq!(base.counts.refused, other.counts.refused);
        prop_assert_eq!(base.used.len(), other.used.len());
        // Every accepted sign-in of ours with an unknown assertion is one not_minted alert.
        let forged = plan.iter().filter(|(_, h)| *h == 5).count();
        prop_assert_eq!(base.by_kind()[&sesame::forensics::reconcile::AlertKind::NotMinted], forged);
        // Every accepted sign-in with a changed tag, sentinel or not, is one tags_differ alert.
        let changed = plan.iter().filter(|(_, h)| *h == 1).count();
        prop_assert_eq!(base.by_kind()[&sesame::forensics::reconcile::AlertKind::TagsDiffer], changed);
    }
}
