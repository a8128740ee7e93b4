//! CloudTrail as AWS delivers it, read as a stream: log files (`{"Records": […]}`,
//! gzip or plain, in S3's `AWSLogs/…/CloudTrail/<region>/<yyyy>/<mm>/<dd>/` layout) and
//! the JSON of `aws cloudtrail lookup-events` (`{"Events": [{"CloudTrailEvent": "…"}]}`).
//! One record at a time is in memory; the `AssumeRoleWithSAML` ones reach the caller as
//! [`SignIn`]s. A file that is not one of these, is cut short or is corrupt is an error
//! naming the file, the line and column, and the record it stopped at.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::json_stream::elements;

/// One `AssumeRoleWithSAML` event: what AWS saw and answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignIn {
    /// `eventID`: the same event read twice (overlapping inputs) has the same one.
    pub event_id: String,
    pub time: DateTime<Utc>,
    pub source_ip: Option<String>,
    /// `recipientAccountId`: the account signed in to.
    pub account: Option<String>,
    pub region: Option<String>,
    /// `requestParameters.principalArn`: the SAML provider.
    pub provider: Option<String>,
    pub role_arn: Option<String>,
    pub assertion_id: Option<String>,
    pub role_session_name: Option<String>,
    pub source_identity: Option<String>,
    pub principal_tags: BTreeMap<String, String>,
    pub duration: Option<u64>,
    /// `responseElements.credentials.accessKeyId`: the session's key.
    pub access_key_id: Option<String>,
    /// Set when AWS refused the sign-in (no credentials were issued).
    pub error_code: Option<String>,
    /// `file:record` it was read from.
    pub origin: String,
}

/// What a read covered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub files: u64,
    pub events: u64,
    pub sign_ins: u64,
    /// Files under a `CloudTrail-Digest` folder (signed digests, not events).
    pub digest_files: u64,
    /// Files inside a given folder whose names are not `.json` / `.json.gz`.
    pub other_files: Vec<PathBuf>,
}

/// The fields of a record reconcile reads, borrowed from the record's bytes.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEvent<'a> {
    #[serde(rename = "eventID", default, borrow)]
    event_id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    event_name: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    event_source: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    event_time: Option<Cow<'a, str>>,
    #[serde(rename = "sourceIPAddress", default, borrow)]
    source_ip: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    aws_region: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    recipient_account_id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    error_code: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    request_parameters: Option<&'a RawValue>,
    #[serde(default, borrow)]
    response_elements: Option<&'a RawValue>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct SamlParams {
    #[serde(rename = "sAMLAssertionID", default)]
    assertion_id: Option<String>,
    #[serde(default)]
    role_session_name: Option<String>,
    #[serde(default)]
    source_identity: Option<String>,
    #[serde(default)]
    principal_tags: BTreeMap<String, String>,
    #[serde(default)]
    duration_seconds: Option<u64>,
    #[serde(default)]
    role_arn: Option<String>,
    #[serde(default)]
    principal_arn: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct SamlResponse {
    #[serde(default)]
    credentials: Option<Credentials>,
    /// STS answers with the SourceIdentity the assertion set; some records carry it in
    /// requestParameters instead. Either is read, the response's first.
    #[serde(default)]
    source_identity: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Credentials {
    #[serde(default)]
    access_key_id: Option<String>,
}

/// Turns one raw record into a sign-in, or `None` for any other event.
fn sign_in(raw: RawEvent<'_>, origin: impl FnOnce() -> String) -> Result<Option<SignIn>, String> {
    if raw.event_name.as_deref() != Some("AssumeRoleWithSAML")
        || raw.event_source.as_deref().is_some_and(|s| s != "sts.amazonaws.com")
    {
        return Ok(None);
    }
    let time = raw.event_time.as_deref().ok_or("an AssumeRoleWithSAML record without eventTime")?;
    let time = DateTime::parse_from_rfc3339(time)
        .map_err(|e| format!("eventTime {time:?} is not an RFC 3339 instant: {e}"))?
        .with_timezone(&Utc);
    let params: SamlParams = match raw.request_parameters {
        Some(p) if p.get() != "null" => serde_json::from_str(p.get())
            .map_err(|e| format!("requestParameters is not AssumeRoleWithSAML's: {e}"))?,
        _ => SamlParams::default(),
    };
    let response: SamlResponse = match raw.response_elements {
        Some(p) if p.get() != "null" => serde_json::from_str(p.get())
            .map_err(|e| format!("responseElements is not AssumeRoleWithSAML's: {e}"))?,
        _ => SamlResponse::default(),
    };
    Ok(Some(SignIn {
        event_id: raw.event_id.map(Cow::into_owned).unwrap_or_default(),
        time,
        source_ip: raw.source_ip.map(Cow::into_owned),
        account: raw.recipient_account_id.map(Cow::into_owned),
        region: raw.aws_region.map(Cow::into_owned),
        provider: params.principal_arn,
        role_arn: params.role_arn,
        assertion_id: params.assertion_id,
        role_session_name: params.role_session_name,
        source_identity: response.source_identity.or(params.source_identity),
        principal_tags: params.principal_tags,
        duration: params.duration_seconds,
        access_key_id: response.credentials.and_then(|c| c.access_key_id),
        error_code: raw.error_code.map(Cow::into_owned),
        origin: origin(),
    }))
}

/// The files `paths` name: a file as given; a folder walked in name order for
/// `.json` and `.json.gz` files, digests and other files counted, not read.
pub fn files(paths: &[PathBuf], stats: &mut Stats) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    super::files::walk(paths, &mut |path| {
        let name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
        if path.components().any(|c| c.as_os_str() == "CloudTrail-Digest") {
            stats.digest_files += 1;
        } else if name.ends_with(".json") || name.ends_with(".json.gz") {
            out.push(path.to_path_buf());
        } else {
            stats.other_files.push(path.to_path_buf());
        }
    })?;
    Ok(out)
}

/// Reads one file (gzip when it starts with gzip's magic bytes), handing each sign-in
/// to `each`; returns how many records it held.
pub fn read_file(path: &Path, each: &mut dyn FnMut(SignIn)) -> Result<u64, String> {
    let name = path.display().to_string();
    let mut file = std::fs::File::open(path).map_err(|e| format!("{name}: {e}"))?;
    let mut magic = [0u8; 2];
    let n = read_up_to(&mut file, &mut magic).map_err(|e| format!("{name}: {e}"))?;
    let head = std::io::Cursor::new(magic.get(..n).unwrap_or_default().to_vec());
    let reader: Box<dyn Read> = if magic == [0x1f, 0x8b] {
        Box::new(flate2::read::MultiGzDecoder::new(BufReader::with_capacity(1 << 16, head.chain(file))))
    } else {
        Box::new(head.chain(file))
    };
    let (mut count, mut done) = (0u64, 0u64);
    let found = elements(reader, &["Records", "Events"], &mut |e| {
        let index = count;
        count += 1;
        let origin = || format!("{name}#{index}");
        let taken = if e.key == "Events" {
            let l: LookupEvent = serde_json::from_slice(e.bytes).map_err(|err| at(index, &err))?;
            let raw: RawEvent<'_> = serde_json::from_str(&l.event).map_err(|err| {
                (1, 0, format!("record {index}: CloudTrailEvent is not a CloudTrail record: {err}"))
            })?;
            sign_in(raw, origin)
        } else {
            let raw: RawEvent<'_> = serde_json::from_slice(e.bytes).map_err(|err| at(index, &err))?;
            sign_in(raw, origin)
        };
        match taken {
            Ok(Some(s)) => each(s),
            Ok(None) => {}
            Err(m) => return Err((1, 0, format!("record {index}: {m}"))),
        }
        done += 1;
        Ok(())
    });
    match found {
        Ok(keys) if keys.is_empty() => Err(format!(
            "{name}: neither \"Records\" (a CloudTrail log file) nor \"Events\" (lookup-events output)"
        )),
        Ok(_) => Ok(count),
        Err(e) => Err(format!("{name}: {e} ({done} records read before)")),
    }
}

/// A record the parser refused, with its position inside the record.
fn at(index: u64, e: &serde_json::Error) -> (u64, u64, String) {
    let mut m = e.to_string();
    // serde_json appends " at line L column C" (relative to the record): the caller
    // reports the position in the file instead.
    if let Some(i) = m.rfind(" at line ") {
        m.truncate(i);
    }
    (e.line() as u64, e.column() as u64, format!("record {index}: {m}"))
}

fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(buf.get_mut(n..).unwrap_or_default())? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

#[derive(Deserialize)]
struct LookupEvent {
    #[serde(rename = "CloudTrailEvent")]
    event: String,
}
