//! AWS session-tag rules, tag specs and numbered PrincipalTag names.

use sesame::core::tags::{SpecError, TagColumn, MAX_SESSION_TAGS};
use sesame::core::{TagKey, TagSpec, TagValue};

fn col(ec2: &str, p: &str) -> TagColumn {
    TagColumn { ec2_key: TagKey::parse("k", ec2).unwrap(), principal: TagKey::parse("k", p).unwrap() }
}

fn default_cols() -> Vec<TagColumn> {
    vec![col("APP_GROUP_NAME", "AppGroupName"), col("APP_ID", "AppId"), col("RELEASE_ID", "ReleaseId")]
}

#[test]
fn values_follow_the_sts_tag_rule() {
    for ok in ["", "webserver", "1.0", "a b", "x:y/z=+-@_", "Zürich", "日本", &"v".repeat(256)] {
        assert!(TagValue::parse("v", ok).is_ok(), "{ok:?}");
    }
    for bad in ["a,b", "a;b", "<x>", "a\tb", "a\nb", "quote\"", "a*", &"v".repeat(257)] {
        assert!(TagValue::parse("v", bad).is_err(), "{bad:?}");
    }
}

#[test]
fn keys_are_non_empty_short_and_not_reserved() {
    assert!(TagKey::parse("k", "AppId").is_ok());
    for bad in ["", "aws:foo", "AWS:foo", "a,b", &"k".repeat(129)] {
        assert!(TagKey::parse("k", bad).is_err(), "{bad:?}");
    }
}

#[test]
fn numbered_names_are_base_then_base_k() {
    let spec = TagSpec::new(default_cols(), 3).unwrap();
    assert_eq!(spec.principal_name(1, 0), "AppGroupName");
    assert_eq!(spec.principal_name(2, 0), "AppGroupName2");
    assert_eq!(spec.principal_name(3, 2), "ReleaseId3");
}

#[test]
fn the_session_tag_limit_is_enforced_with_the_largest_allowed_count() {
    let n = MAX_SESSION_TAGS / 3;
    assert!(TagSpec::new(default_cols(), n).is_ok());
    let e = TagSpec::new(default_cols(), n + 1).unwrap_err();
    assert_eq!(e, SpecError::TooManyTags { sets: 17, columns: 3, total: 51, allowed: 16 });
    assert!(e.to_string().contains("at most 16 sets fit"), "{e}");
}

#[test]
fn numbered_names_that_collide_case_insensitively_are_refused() {
    // "App" in set 2 is "App2", which is also the base name of the second column.
    let e = TagSpec::new(vec![col("A", "App"), col("B", "app2")], 2).unwrap_err();
    assert!(matches!(e, SpecError::Collision { .. }), "{e:?}");
    let e = TagSpec::new(vec![col("A", "Same"), col("B", "SAME")], 1).unwrap_err();
    assert!(matches!(e, SpecError::Collision { .. }), "{e:?}");
}

#[test]
fn empty_or_zero_specs_are_refused() {
    assert_eq!(TagSpec::new(vec![], 1).unwrap_err(), SpecError::NoColumns);
    assert_eq!(TagSpec::new(default_cols(), 0).unwrap_err(), SpecError::NoSets);
    assert!(matches!(
        TagSpec::new(vec![col("A", "X"), col("A", "Y")], 1).unwrap_err(),
        SpecError::DuplicateEc2Key(_)
    ));
}
