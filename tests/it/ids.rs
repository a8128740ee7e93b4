//! Input syntax: every rejection names the field and the rule.

use sesame::core::{InstanceId, Region, Request, UserName};

#[test]
fn users_follow_the_role_session_name_rule() {
    for ok in ["al", "alice", "alice@corp.example", "a.b-c_d=e,f", &"x".repeat(64)] {
        assert!(UserName::parse("user", ok).is_ok(), "{ok}");
    }
    for bad in ["", "a", "bo b", "*)(uid=*", "admin)(|(uid=*", "ali\\ce", "jörg", "a\nb", &"x".repeat(65)] {
        let e = UserName::parse("user", bad).unwrap_err();
        assert_eq!(e.field, "user");
        assert!(e.to_string().contains("2-64 characters"), "{e}");
    }
}

#[test]
fn instance_ids_are_ec2_or_managed() {
    for ok in ["i-01234567", "i-0123456789abcdef0", "mi-0123456789abcdef0"] {
        assert!(InstanceId::parse("instance_id", ok).is_ok(), "{ok}");
    }
    for bad in [
        "",
        "i-",
        "i-0123",
        "i-0123456789ABCDEF0",
        "i-0123456789abcdef",
        "mi-01234567",
        "i-0123456789abcdeg0",
        " i-01234567",
        "x-01234567",
    ] {
        let e = InstanceId::parse("instance_id", bad).unwrap_err();
        assert_eq!(e.field, "instance_id");
        assert!(e.rule.contains("hex"), "{e}");
    }
}

#[test]
fn regions_look_like_aws_regions() {
    for ok in ["us-east-1", "eu-central-2", "ap-southeast-4", "us-gov-west-1", "cn-north-1", "us-isob-east-1"]
    {
        assert!(Region::parse("region", ok).is_ok(), "{ok}");
    }
    for bad in
        ["", "us", "us-east", "US-EAST-1", "us_east_1", "useast1", "us-east-100", "u-east-1", "us-east-1 "]
    {
        assert!(Region::parse("region", bad).is_err(), "{bad}");
    }
}

#[test]
fn a_request_reports_the_first_bad_field_by_its_api_name() {
    assert_eq!(Request::parse("alice", "i-01234567", "nowhere").unwrap_err().field, "region");
    assert_eq!(Request::parse("alice", "i-1", "us-east-1").unwrap_err().field, "instance_id");
    assert_eq!(Request::parse("a", "i-01234567", "us-east-1").unwrap_err().field, "user");
}

#[test]
fn long_bad_values_are_truncated_in_messages() {
    let e = UserName::parse("user", &"*".repeat(10_000)).unwrap_err();
    assert!(e.to_string().len() < 400);
}

mod session_names {
    use proptest::prelude::*;
    use sesame::core::ids::is_session_name_char;
    use sesame::core::{role_session_name, session_name_of, Nonce, SessionNaming, UserName};

    proptest! {
        /// Every per-decision RoleSessionName meets AWS's rule, starts with (a prefix of)
        /// the user, and is found again from any session ID AWS would make of it.
        #[test]
        fn per_decision_names_follow_aws_rule_and_come_back_from_session_ids(
            user in "[A-Za-z0-9_=,.@-]{2,64}",
            bytes in proptest::collection::vec(any::<u8>(), 48),
            hex in "[0-9a-f]{1,17}",
        ) {
            let u = UserName::parse("user", &user).unwrap();
            let mut b = [0u8; 48];
            b.copy_from_slice(&bytes);
            let n = Nonce::from_bytes(b);
            let name = role_session_name(&u, &n, SessionNaming::PerDecision);
            prop_assert!((2..=64).contains(&name.len()), "{}", name);
            prop_assert!(name.chars().all(is_session_name_char));
            prop_assert!(name.starts_with(&user[..user.len().min(51)]));
            prop_assert!(name.ends_with(&n.assertion_id()[2..14]));
            let id = format!("{name}-{hex}");
            prop_assert_eq!(session_name_of(&id), Some(name.as_str()));
            prop_assert_eq!(role_session_name(&u, &n, SessionNaming::User), user);
        }
    }
}
