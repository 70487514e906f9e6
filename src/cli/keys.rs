//! Where `explain` and `test` get each issuer's verification keys, without the network: the JWKS bundled in the
//! policy, HMAC secrets from `--secret NAME=VALUE` (or the environment variable NAME), and the JWKS the Worker
//! would fetch from local files (`--jwks ISSUER=FILE`).
//!
//! An issuer whose keys cannot be had is [`Keys::Unavailable`], exactly as in the Worker: a request carrying a
//! token for it fails closed (503). The keyring remembers why, so the CLI can say what to pass.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use edge_access::policy::{JwksUrl, KeySource, Policy};
use edge_access::token::jwk::{self, JwksMode, VerifyKey};
use edge_access::token::jwt;
use edge_access::verify::request::{KeyStore, Keys};

use super::{did_you_mean, CliError};

/// What the user supplied.
#[derive(Debug, Clone, Default)]
pub struct KeySupply {
    /// Worker secret name -> value.
    pub secrets: BTreeMap<String, String>,
    /// Issuer name (as in the policy's `issuers`) -> JWKS file.
    pub jwks: BTreeMap<String, PathBuf>,
    /// Fall back to environment variables for secrets not given.
    pub env: bool,
    /// How the user names secrets and JWKS files in messages (`--secret` or `"secrets"`).
    pub secret_flag: &'static str,
    pub jwks_flag: &'static str,
}

/// Each issuer's keys, or why there are none.
#[derive(Debug)]
pub struct Keyring {
    keys: Vec<Result<Vec<VerifyKey>, String>>,
    /// Things worth telling the user (a secret that is too short, keys skipped in a JWKS file).
    pub warnings: Vec<String>,
}

impl KeyStore for Keyring {
    fn keys(&self, issuer: usize) -> Keys<'_> {
        match self.keys.get(issuer) {
            Some(Ok(keys)) => Keys::Ready(keys),
            _ => Keys::Unavailable,
        }
    }
}

impl Keyring {
    /// Why an issuer has no keys, when it has none.
    pub fn missing(&self, issuer: usize) -> Option<&str> {
        match self.keys.get(issuer) {
            Some(Err(why)) => Some(why),
            _ => None,
        }
    }
}

/// Builds the keyring for `policy`. Names that match nothing in the policy (a `--jwks` issuer, a `--secret`) are
/// usage errors: they are almost always typos.
pub fn keyring(policy: &Policy, supply: &KeySupply) -> Result<Keyring, CliError> {
    let issuers = policy.issuers();
    for name in supply.jwks.keys() {
        let Some(issuer) = issuers.iter().find(|i| &i.name == name) else {
            return Err(CliError::Usage(format!(
                "{} names issuer `{name}`, which the policy does not have{}",
                supply.jwks_flag,
                did_you_mean(name, issuers.iter().map(|i| i.name.as_str()))
            )));
        };
        if !matches!(issuer.keys, KeySource::Remote(_)) {
            return Err(CliError::Usage(format!(
                "{} names issuer `{name}`, whose keys are {}: only issuers whose JWKS the Worker fetches take a file",
                supply.jwks_flag,
                match issuer.keys {
                    KeySource::HmacSecrets(_) => "hmac secrets",
                    _ => "bundled in the policy",
                }
            )));
        }
    }
    let secret_names: Vec<&str> = issuers
        .iter()
        .filter_map(|i| match &i.keys {
            KeySource::HmacSecrets(names) => Some(names.iter().map(String::as_str)),
            _ => None,
        })
        .flatten()
        .collect();
    for name in supply.secrets.keys() {
        if !secret_names.contains(&name.as_str()) {
            return Err(CliError::Usage(format!(
                "{} names secret `{name}`, which no issuer of the policy uses{}",
                supply.secret_flag,
                did_you_mean(name, secret_names.iter().copied())
            )));
        }
    }
    let mut warnings = Vec::new();
    let mut keys = Vec::with_capacity(issuers.len());
    for issuer in issuers {
        let entry = match &issuer.keys {
            KeySource::Bundled(k) => Ok(k.clone()),
            KeySource::HmacSecrets(names) => {
                let mut found = Vec::new();
                let mut why = Vec::new();
                for name in names {
                    let value = supply
                        .secrets
                        .get(name)
                        .cloned()
                        .or_else(|| supply.env.then(|| std::env::var(name).ok()).flatten());
                    match value.map(|v| VerifyKey::hmac(v.as_bytes())) {
                        Some(Ok(key)) => found.push(key),
                        Some(Err(e)) => {
                            let note = format!("secret `{name}` is unusable: {e}");
                            warnings.push(format!("issuer `{}`: {note}", issuer.name));
                            why.push(note);
                        }
                        None => why.push(format!(
                            "secret `{name}` is not set (give {} {name}=...{})",
                            supply.secret_flag,
                            if supply.env {
                                format!(" or set the environment variable {name}")
                            } else {
                                String::new()
                            }
                        )),
                    }
                }
                if found.is_empty() {
                    Err(why.join("; "))
                } else {
                    Ok(found)
                }
            }
            KeySource::Remote(remote) => match supply.jwks.get(&issuer.name) {
                Some(path) => {
                    let (found, skipped) = read_jwks(path)?;
                    for s in skipped {
                        warnings.push(format!(
                            "issuer `{}`: `{}`: skipped {s}",
                            issuer.name,
                            path.display()
                        ));
                    }
                    // As in the Worker, a well-formed JWKS with no usable key is honoured: the issuer's tokens
                    // are refused (`token_unknown_key`), not a failure to get keys.
                    if found.is_empty() {
                        warnings.push(format!(
                            "issuer `{}`: `{}` holds no usable key, so every token of this issuer is refused, as in the Worker",
                            issuer.name,
                            path.display()
                        ));
                    }
                    Ok(found)
                }
                None => {
                    let from = match &remote.url {
                        JwksUrl::Fixed(url) => format!("from {url}"),
                        JwksUrl::Var(var) => format!("from the URL in the Worker var {var}"),
                    };
                    Err(format!(
                        "the Worker fetches its JWKS {from}; the CLI never does: give {} {}=FILE",
                        supply.jwks_flag, issuer.name
                    ))
                }
            },
        };
        keys.push(entry);
    }
    Ok(Keyring { keys, warnings })
}

/// A JWKS file read as the Worker reads a fetched one: strict JSON, unusable keys skipped and reported.
fn read_jwks(path: &Path) -> Result<(Vec<VerifyKey>, Vec<String>), CliError> {
    let text = super::read_text(path)?;
    let doc = jwt::parse_json_strict(text.as_bytes()).map_err(|_| {
        CliError::Usage(format!(
            "`{}` is not strict JSON (a syntax error or a repeated member)",
            path.display()
        ))
    })?;
    let parsed = jwk::parse_jwks(&doc, JwksMode::Remote)
        .map_err(|e| CliError::Usage(format!("`{}`: {e}", path.display())))?;
    let skipped = parsed.skipped.iter().map(|(_, e)| e.to_string()).collect();
    Ok((parsed.keys, skipped))
}
