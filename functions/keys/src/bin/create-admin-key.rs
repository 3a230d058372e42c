//! Create a `keys:admin` API key and print it once (bootstrap of a new
//! deployment). Run from a host that reaches the database; see docs/keys.md.
//!
//! usage: create-admin-key [--tenant <tenant>] [--name <name>] [--plan <plan>]
//!
//! The database comes from the same variables as the Lambdas (`portcullis_db`:
//! DATABASE_URL, or DB_SECRET_ARN / RDS IAM settings). The key goes to stdout
//! alone, so it can be captured (`KEY=$(create-admin-key)`); everything else
//! goes to stderr, the `KeyCreated` metrics record (one EMF JSON line) too.
//!
//! With `USAGE_PLAN_IDS` (and `USAGE_KEY_PREFIX`) set as for the keys
//! function, the key's API Gateway usage key is created in its plan too,
//! with the AWS credentials of the environment; without them the key has
//! none, and API Gateway refuses it (docs/keys.md#per-consumer-quotas).

use std::process::ExitCode;

const USAGE: &str = "usage: create-admin-key [--tenant <tenant>] [--name <name>] [--plan <plan>]
  --tenant  tenant of the key (default: platform, whose admins manage every tenant)
  --name    a label for the key (default: bootstrap admin)
  --plan    usage plan from platform.yaml (default: standard)
The database is configured as for the Lambdas: DATABASE_URL, or DB_SECRET_ARN (+ AWS credentials).
USAGE_PLAN_IDS and USAGE_KEY_PREFIX (the keys function's, from `terraform output -json function_environments`)
make the key's API Gateway usage key too (AWS credentials with the keys function's API Gateway permissions).";

fn parse_args(args: &[String]) -> Result<(String, String, String), String> {
    let (mut tenant, mut name, mut plan) = (
        "platform".to_owned(),
        "bootstrap admin".to_owned(),
        "standard".to_owned(),
    );
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let slot = match flag.as_str() {
            "--tenant" => &mut tenant,
            "--name" => &mut name,
            "--plan" => &mut plan,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        };
        *slot = it
            .next()
            .ok_or_else(|| format!("{flag} needs a value"))?
            .clone();
    }
    Ok((tenant, name, plan))
}

/// The API Gateway client for the key's usage key, when usage plans are
/// configured (without them the key gets none, and the tool says so).
async fn api_gateway(
    config: &keys::Config,
    env: &portcullis_core::Env,
) -> Result<Option<aws_sdk_apigateway::Client>, portcullis_core::ConfigError> {
    if config.usage_plan_ids.is_none() {
        eprintln!(
            "create-admin-key: USAGE_PLAN_IDS is not set: the key gets no API Gateway usage key, and a deployed API Gateway refuses it (403); set USAGE_PLAN_IDS and USAGE_KEY_PREFIX as the keys function has them to make one"
        );
        return Ok(None);
    }
    let sdk = portcullis_aws::sdk_config_in(env).await?;
    Ok(Some(portcullis_aws::clients::api_gateway(&sdk)))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    // stdout holds the key alone: the metrics record goes to stderr.
    portcullis_core::metrics::set_writer(Box::new(std::io::stderr()));
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (tenant, name, plan) = match parse_args(&args) {
        Ok(v) => v,
        Err(msg) => {
            if !msg.is_empty() {
                eprintln!("create-admin-key: {msg}");
            }
            eprintln!("{USAGE}");
            return if msg.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            };
        }
    };
    let env = portcullis_core::Env::Process;
    let config = match keys::Config::from_env(&env) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("create-admin-key: {e}");
            return ExitCode::FAILURE;
        }
    };
    if !config.plans.contains(&plan) {
        eprintln!(
            "create-admin-key: unknown usage plan {plan:?}; the plans are: {}",
            config.plans.join(", ")
        );
        return ExitCode::from(2);
    }
    let db = match portcullis_db::Database::from_env(&env).await {
        Ok(db) => db,
        Err(e) => {
            eprintln!("create-admin-key: {e}");
            return ExitCode::FAILURE;
        }
    };
    let apigw = match api_gateway(&config, &env).await {
        Ok(apigw) => apigw,
        Err(e) => {
            eprintln!("create-admin-key: {e}");
            return ExitCode::FAILURE;
        }
    };
    let usage = match (&apigw, &config.usage_plan_ids) {
        (Some(apigw), Some(plan_ids)) => Some(keys::usage::UsageKeys {
            apigw,
            prefix: &config.usage_key_prefix,
            plan_ids,
        }),
        _ => None,
    };
    match keys::bootstrap_admin_key_with_usage(&db, usage, &tenant, &name, &plan).await {
        Ok(created) => {
            eprintln!(
                "created API key {} (tenant {}, scopes {}, plan {}). It is shown once, below; store it now.",
                created.record.id,
                created.record.tenant,
                created.record.scopes,
                created.record.plan
            );
            println!("{}", created.key.expose_secret());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("create-admin-key: {e}");
            ExitCode::FAILURE
        }
    }
}
