//! `edge-access token`: mints a signed JWT for local testing (`explain --header 'Authorization: Bearer ...'`,
//! `curl` against `make dev`), or generates a test key pair with `--generate`.
//!
//! Claims: `--sub`, `--iss`, `--aud` (repeatable: one is a string, several an array), `--claim name=value`
//! (repeatable; the value is JSON when it parses as JSON, else a string; `null` removes a claim), and `iat` =
//! now, `exp` = now + `--ttl` unless a `--claim` sets them. The signer is the CLI's own ([`super::sign`]); never
//! use its tokens or keys in production.

use std::path::PathBuf;
use std::process::ExitCode;

use edge_access::token::Algorithm;
use serde_json::{json, Map, Value};

use super::sign::{self, KeyKind, PrivateKey, SigningKey};
use super::time::{now, parse_time};
use super::{split_assignment, CliError};

#[derive(clap::Args)]
pub struct Args {
    /// Signature algorithm: HS256/384/512, RS256/384/512, PS256/384/512, ES256, ES384 or EdDSA. Default: the
    /// key's own `alg`, else HS256 for secrets, RS256, ES256, ES384 or EdDSA by key type.
    #[arg(long)]
    alg: Option<String>,
    /// The HMAC secret (its UTF-8 bytes), for HS256/384/512.
    #[arg(long, conflicts_with_all = ["secret_env", "jwk", "generate"])]
    secret: Option<String>,
    /// The name of an environment variable holding the HMAC secret (keeps it out of shell history).
    #[arg(long, value_name = "NAME", conflicts_with_all = ["jwk", "generate"])]
    secret_env: Option<String>,
    /// A private JWK file (RSA, EC P-256/P-384, OKP Ed25519, or oct).
    #[arg(long, value_name = "FILE", conflicts_with = "generate")]
    jwk: Option<PathBuf>,
    /// A claim, NAME=VALUE; repeatable. VALUE is read as JSON when it parses (numbers, true, arrays, objects,
    /// null to remove a claim), else taken as a string.
    #[arg(long = "claim", value_name = "NAME=VALUE")]
    claims: Vec<String>,
    /// The `sub` claim.
    #[arg(long)]
    sub: Option<String>,
    /// The `iss` claim.
    #[arg(long)]
    iss: Option<String>,
    /// The `aud` claim; repeatable (several make an array).
    #[arg(long)]
    aud: Vec<String>,
    /// Lifetime in seconds: `exp` = now + ttl (and `iat` = now).
    #[arg(long, default_value_t = 3600)]
    ttl: u64,
    /// The `kid` header. Default: the JWK's `kid`.
    #[arg(long)]
    kid: Option<String>,
    /// The time the token is minted at: RFC 3339 or Unix seconds. Default: now.
    #[arg(long)]
    now: Option<String>,
    /// Instead of minting, generate a test key pair and print the private JWK and its public JWKS.
    #[arg(long, value_enum, value_name = "KIND")]
    generate: Option<KeyKind>,
    /// With --generate: write the private JWK to this file instead of printing it.
    #[arg(long, value_name = "FILE", requires = "generate")]
    private_out: Option<PathBuf>,
    /// With --generate: write the public JWKS to this file instead of printing it.
    #[arg(long, value_name = "FILE", requires = "generate")]
    jwks_out: Option<PathBuf>,
}

pub fn run(args: &Args) -> Result<ExitCode, CliError> {
    if let Some(kind) = args.generate {
        return generate(args, kind);
    }
    let key = match (&args.secret, &args.secret_env, &args.jwk) {
        (Some(s), _, _) => hmac_key(s.as_bytes()),
        (_, Some(name), _) => {
            let value = std::env::var(name).map_err(|_| {
                CliError::Usage(format!("the environment variable `{name}` is not set"))
            })?;
            hmac_key(value.as_bytes())
        }
        (_, _, Some(path)) => read_private_jwk(path)?,
        _ => {
            return Err(CliError::Usage(
                "give a key: --secret, --secret-env or --jwk (or --generate a key pair)".to_owned(),
            ))
        }
    };
    let alg = match &args.alg {
        Some(name) => parse_alg(name)?,
        None => key.default_alg(),
    };
    let now = match &args.now {
        Some(t) => parse_time(t).map_err(|e| CliError::Usage(e.to_string()))?,
        None => now(),
    };
    let mut claims = Map::new();
    claims.insert("iat".into(), now.into());
    claims.insert("exp".into(), now.saturating_add(args.ttl).into());
    if let Some(sub) = &args.sub {
        claims.insert("sub".into(), sub.clone().into());
    }
    if let Some(iss) = &args.iss {
        claims.insert("iss".into(), iss.clone().into());
    }
    match args.aud.as_slice() {
        [] => {}
        [one] => {
            claims.insert("aud".into(), one.clone().into());
        }
        many => {
            claims.insert("aud".into(), many.to_vec().into());
        }
    }
    for c in &args.claims {
        let (name, value) = split_assignment(c, "--claim")?;
        set_claim(&mut claims, name, claim_value(value));
    }
    let kid = args.kid.as_deref().or(key.kid.as_deref());
    let token = sign::mint(&key, alg, kid, &claims).map_err(|e| CliError::Usage(e.to_string()))?;
    outln!("{token}");
    Ok(ExitCode::SUCCESS)
}

/// A claim value from the command line: JSON when it parses, else the text itself.
pub fn claim_value(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

/// Sets a claim; `null` removes it.
pub fn set_claim(claims: &mut Map<String, Value>, name: &str, value: Value) {
    if value.is_null() {
        claims.remove(name);
    } else {
        claims.insert(name.to_owned(), value);
    }
}

pub fn parse_alg(name: &str) -> Result<Algorithm, CliError> {
    Algorithm::from_name(name).ok_or_else(|| {
        CliError::Usage(format!(
            "unknown algorithm `{name}`: use HS256/384/512, RS256/384/512, PS256/384/512, ES256, ES384 or EdDSA"
        ))
    })
}

pub fn hmac_key(secret: &[u8]) -> PrivateKey {
    PrivateKey {
        key: SigningKey::Hmac(secret.to_vec()),
        kid: None,
        alg: None,
    }
}

pub fn read_private_jwk(path: &std::path::Path) -> Result<PrivateKey, CliError> {
    let text = super::read_text(path)?;
    let value: Value = serde_json::from_str(&text)
        .map_err(|e| CliError::Usage(format!("`{}` is not JSON: {e}", path.display())))?;
    sign::parse_private_jwk(&value)
        .map_err(|e| CliError::Usage(format!("`{}`: {e}", path.display())))
}

fn generate(args: &Args, kind: KeyKind) -> Result<ExitCode, CliError> {
    let key =
        sign::generate(kind, args.kid.as_deref()).map_err(|e| CliError::Failed(e.to_string()))?;
    let (Some(private), Some(public)) = (key.private_jwk(), key.public_jwk()) else {
        return Err(CliError::Failed(
            "the key could not be written as a jwk".to_owned(),
        ));
    };
    let jwks = json!({ "keys": [public] });
    let pretty = |v: &Value| {
        let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
        s.push('\n');
        s
    };
    let write = |path: &PathBuf, v: &Value| {
        std::fs::write(path, pretty(v))
            .map_err(|e| CliError::Usage(format!("cannot write `{}`: {e}", path.display())))
    };
    if let Some(path) = &args.private_out {
        write(path, &private)?;
    }
    if let Some(path) = &args.jwks_out {
        write(path, &jwks)?;
    }
    if args.private_out.is_none() || args.jwks_out.is_none() {
        let mut doc = Map::new();
        if args.private_out.is_none() {
            doc.insert("private_jwk".into(), private);
        }
        if args.jwks_out.is_none() {
            doc.insert("jwks".into(), jwks);
        }
        out!("{}", pretty(&Value::Object(doc)));
    }
    Ok(ExitCode::SUCCESS)
}
