//! The annotated reference configuration stays valid (its paths are resolved against
//! the repository, so only its key files are missing).

use sesame::config::Config;

use crate::common::root;

#[test]
fn the_reference_configuration_parses_and_validates() {
    let text = std::fs::read_to_string(root().join("policies/sesame.example.toml")).unwrap();
    let cfg = Config::from_toml(&text, "policies/sesame.example.toml", &root()).unwrap();
    assert_eq!(cfg.aws.acs_url, "https://signin.aws.amazon.com/saml");
    assert_eq!(cfg.policy.role_max_session, 3600);
}
