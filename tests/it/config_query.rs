//! Properties of the AWS Config query builder: every tag condition is `tags.tag =
//! 'KEY=value'` (never tags.key / tags.value, which AWS matches against any element
//! separately), nothing outside the EC2 tag charset enters the text, the literals read
//! back are exactly the pairs given (no injection), and 4,096 characters is the limit.

use proptest::prelude::*;
use sesame::core::config_query::{expression, QueryError, Want, MAX_EXPRESSION};
use sesame::core::{InstanceId, Region};

/// The quoted literals of an expression, in order (the builder never escapes: no
/// literal may contain a quote).
fn literals(q: &str) -> Vec<&str> {
    q.split('\'').skip(1).step_by(2).collect()
}

fn key() -> impl Strategy<Value = String> {
    "[A-Za-z0-9 _.:/+@é-]{1,20}"
}

fn value() -> impl Strategy<Value = String> {
    "[A-Za-z0-9 _.:/=+@ü-]{0,30}"
}

proptest! {
    #[test]
    fn tag_conditions_are_whole_pairs_and_read_back_exactly(
        pairs in prop::collection::vec((key(), value()), 0..8)
    ) {
        let want: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let q = expression(Want::Covering(&want)).unwrap();
        prop_assert!(!q.contains("tags.key") && !q.contains("tags.value"));
        prop_assert_eq!(q.matches(" AND tags.tag = '").count(), want.len());
        let lits = literals(&q);
        prop_assert_eq!(lits[0], "AWS::EC2::Instance");
        let back: Vec<String> = lits[1..].iter().map(|s| s.to_string()).collect();
        let given: Vec<String> = want.iter().map(|(k, v)| format!("{k}={v}")).collect();
        prop_assert_eq!(back, given);
        prop_assert!(q.chars().count() <= MAX_EXPRESSION);
    }

    #[test]
    fn anything_outside_the_charset_is_refused_and_never_written(
        k in key(), v in value(), bad in prop::sample::select(vec!['\'', '"', '\\', ';', '\n', '\r', '\t', '\0', '\u{2028}', '%', '*', '(', ')', ','])
    ) {
        let in_value = format!("{v}{bad}");
        let r = expression(Want::Covering(&[(&k, &in_value)]));
        prop_assert!(matches!(r, Err(QueryError::Value { .. })), "{:?}", r);
        let in_key = format!("{k}{bad}");
        let r = expression(Want::Covering(&[(&in_key, &v)]));
        prop_assert!(matches!(r, Err(QueryError::Key { .. })), "{:?}", r);
    }
}

#[test]
fn the_limits_and_the_rules_named() {
    // `=` in a key would make KEY=value ambiguous.
    let e = expression(Want::Covering(&[("A=B", "x")])).unwrap_err();
    assert!(e.to_string().contains("tag key \"A=B\"") && e.to_string().contains("no ="), "{e}");
    assert!(expression(Want::Covering(&[("", "x")])).is_err());
    let long = "v".repeat(256);
    assert!(expression(Want::Covering(&[("K", &long)])).is_ok());
    let longer = "v".repeat(257);
    assert!(expression(Want::Covering(&[("K", &longer)])).is_err());
    // Sixteen 256-character values overflow 4,096 characters.
    let many: Vec<(String, String)> = (0..16).map(|i| (format!("K{i}"), long.clone())).collect();
    let want: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    match expression(Want::Covering(&want)) {
        Err(QueryError::TooLong { len }) => assert!(len > 4096),
        other => panic!("expected TooLong, got {other:?}"),
    }
    let id = InstanceId::parse("instance", "i-0123456789abcdef0").unwrap();
    let region = Region::parse("region", "eu-west-1").unwrap();
    assert_eq!(
        expression(Want::Instance(&id, &region)).unwrap(),
        "SELECT resourceId, awsRegion, accountId, tags WHERE resourceType = 'AWS::EC2::Instance' AND resourceId = 'i-0123456789abcdef0' AND awsRegion = 'eu-west-1'"
    );
    assert_eq!(
        expression(Want::Covering(&[("APP_ID", "PAY"), ("RELEASE_ID", "2.3")])).unwrap(),
        "SELECT resourceId, awsRegion, accountId, tags WHERE resourceType = 'AWS::EC2::Instance' AND tags.tag = 'APP_ID=PAY' AND tags.tag = 'RELEASE_ID=2.3'"
    );
}
