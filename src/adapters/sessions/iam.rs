//! The role's inline policies through the official AWS SDK for Rust (aws-sdk-iam):
//! GetRolePolicy (its document arrives URL-encoded, RFC 3986, and is decoded here),
//! PutRolePolicy, DeleteRolePolicy. IAM is global: one client, region us-east-1 for
//! signing; the SDK configuration (credentials, timeouts, retries) is the one of
//! `ssm.rs`; an endpoint override only for the tests' stand-in.

use aws_config::SdkConfig;
use aws_sdk_iam::error::SdkError;
use aws_sdk_iam::operation::get_role_policy::GetRolePolicyError;

use super::ssm::error;
use crate::adapters::{RolePolicies, SessionError};

pub struct IamPolicies {
    rt: tokio::runtime::Runtime,
    client: aws_sdk_iam::Client,
}

impl std::fmt::Debug for IamPolicies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IamPolicies").finish_non_exhaustive()
    }
}

impl IamPolicies {
    pub fn new(sdk: &SdkConfig, endpoint_url: Option<&str>) -> Result<Self, SessionError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| SessionError { code: "runtime".into(), message: e.to_string() })?;
        let mut b = aws_sdk_iam::config::Builder::from(sdk).region(aws_config::Region::new("us-east-1"));
        if let Some(u) = endpoint_url {
            b = b.endpoint_url(u);
        }
        Ok(Self { rt, client: aws_sdk_iam::Client::from_conf(b.build()) })
    }
}

impl RolePolicies for IamPolicies {
    fn get(&self, role: &str, name: &str) -> Result<Option<String>, SessionError> {
        let c = self.client.clone();
        let r = self.rt.block_on(c.get_role_policy().role_name(role).policy_name(name).send());
        match r {
            Ok(out) => {
                let doc = percent_encoding::percent_decode_str(out.policy_document()).decode_utf8().map_err(
                    |e| SessionError {
                        code: "bad_response".into(),
                        message: format!("policy document: {e}"),
                    },
                )?;
                Ok(Some(doc.into_owned()))
            }
            Err(SdkError::ServiceError(e))
                if matches!(e.err(), GetRolePolicyError::NoSuchEntityException(_)) =>
            {
                Ok(None)
            }
            Err(e) => Err(error(e)),
        }
    }

    fn put(&self, role: &str, name: &str, document: &str) -> Result<(), SessionError> {
        let c = self.client.clone();
        self.rt
            .block_on(c.put_role_policy().role_name(role).policy_name(name).policy_document(document).send())
            .map(drop)
            .map_err(error)
    }

    fn delete(&self, role: &str, name: &str) -> Result<(), SessionError> {
        let c = self.client.clone();
        self.rt
            .block_on(c.delete_role_policy().role_name(role).policy_name(name).send())
            .map(drop)
            .map_err(error)
    }
}
