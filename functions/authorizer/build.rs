//! The route table's input, read at build time.
//!
//! The authorizer's route → scope table comes from `api/openapi.yaml`.
//! Parsing the YAML at start-up was most of the cold start, so this script
//! reads the operations from it now, as `routes::Operation::all` does (a
//! test checks the two agree), and writes them to
//! `$OUT_DIR/operations.rs`, which `routes::EMBEDDED_OPERATIONS` includes.
//! The rules (which operations need a scope, the scope syntax) stay in
//! `routes.rs` and run at start-up on this list; OPENAPI_FILE, when set,
//! is still parsed at start-up.
//!
//! It also writes `$OUT_DIR/service_routes.rs` (`routes::EMBEDDED_SERVICE_ROUTES`):
//! the scoped routes platform.yaml's services declare (`services.<name>.routes`,
//! issue 13 item 2) as operations on `/v1/services/<name><path>`, the paths
//! Terraform adds to the REST API body. Public routes are left out: API
//! Gateway runs no authorizer for them. shared/platform validates the
//! registry; a test checks this list against it.
//!
//! And `$OUT_DIR/vpc_link_services.rs` (`signing::EMBEDDED_VPC_LINK_SERVICES`):
//! the `integration: vpc_link` services (name, `path_prefix`,
//! `environments`), whose identity the authorizer signs (issue 13 item 1);
//! a test checks it against the validated registry too.

use serde_norway::Value;
use std::fmt::Write as _;
use std::path::PathBuf;

fn main() {
    let manifest =
        PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let source = manifest.join("../../api/openapi.yaml");
    let doc = read_yaml(&source);
    let paths = doc
        .get("paths")
        .and_then(Value::as_mapping)
        .unwrap_or_else(|| panic!("{} has no `paths` mapping", source.display()));
    let mut out = String::from("&[\n");
    for (path, item) in paths {
        let (Some(path), Some(item)) = (path.as_str(), item.as_mapping()) else {
            continue;
        };
        for (key, op) in item {
            let (Some(key), Some(op)) = (key.as_str(), op.as_mapping()) else {
                continue;
            };
            let secured = op
                .get("security")
                .and_then(Value::as_sequence)
                .is_some_and(|s| !s.is_empty());
            let scope = match op.get("x-portcullis-scope") {
                None => "ScopeField::Absent".to_owned(),
                Some(v) => v.as_str().map_or("ScopeField::NotText".to_owned(), |s| {
                    format!("ScopeField::Text({s:?})")
                }),
            };
            writeln!(
                out,
                "    Operation {{ path: {path:?}, key: {key:?}, secured: {secured}, scope: {scope} }},"
            )
            .expect("write to a String");
        }
    }
    write_out("operations.rs", out);
    // platform.yaml, read once for both lists.
    let platform = read_yaml(&manifest.join("../../platform.yaml"));
    service_routes(&platform);
    vpc_link_services(&platform);
}

/// `path` parsed as YAML; the build reruns when it changes.
fn read_yaml(path: &std::path::Path) -> Value {
    println!("cargo:rerun-if-changed={}", path.display());
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_norway::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not valid YAML: {e}", path.display()))
}

/// `out` closed as a slice and written to `$OUT_DIR/<name>`.
fn write_out(name: &str, mut out: String) {
    out.push(']');
    let dest = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR")).join(name);
    std::fs::write(&dest, out).unwrap_or_else(|e| panic!("cannot write {}: {e}", dest.display()));
}

/// The `integration: vpc_link` services of platform.yaml.
fn vpc_link_services(doc: &Value) {
    let mut out = String::from("&[\n");
    if let Some(services) = doc.get("services").and_then(Value::as_mapping) {
        for (name, svc) in services {
            let Some(name) = name.as_str() else { continue };
            if svc.get("integration").and_then(Value::as_str) != Some("vpc_link") {
                continue;
            }
            // shared/platform's default and normalisation of path_prefix.
            let path_prefix = svc.get("path_prefix").and_then(Value::as_str).map_or_else(
                || format!("/{name}"),
                |p| p.trim_end_matches('/').to_owned(),
            );
            let environments = match svc.get("environments").and_then(Value::as_sequence) {
                None => "None".to_owned(),
                Some(list) => {
                    let names: Vec<String> = list
                        .iter()
                        .filter_map(Value::as_str)
                        .map(|e| format!("{e:?}"))
                        .collect();
                    format!("Some(&[{}])", names.join(", "))
                }
            };
            writeln!(
                out,
                "    VpcLinkService {{ name: {name:?}, path_prefix: {path_prefix:?}, environments: {environments} }},"
            )
            .expect("write to a String");
        }
    }
    write_out("vpc_link_services.rs", out);
}

/// The scoped routes of platform.yaml's services, as operations.
fn service_routes(doc: &Value) {
    let mut out = String::from("&[\n");
    if let Some(services) = doc.get("services").and_then(Value::as_mapping) {
        for (name, svc) in services {
            let Some(name) = name.as_str() else { continue };
            let routes = svc.get("routes").and_then(Value::as_sequence);
            for route in routes.into_iter().flatten() {
                let (Some(path), Some(scope)) = (
                    route.get("path").and_then(Value::as_str),
                    route.get("scope").and_then(Value::as_str),
                ) else {
                    continue; // public (or invalid: shared/platform refuses it)
                };
                let methods = route.get("methods").and_then(Value::as_sequence);
                for m in methods.into_iter().flatten().filter_map(Value::as_str) {
                    let key = m.to_ascii_lowercase();
                    let path = format!("/v1/services/{name}{path}");
                    writeln!(
                        out,
                        "    Operation {{ path: {path:?}, key: {key:?}, secured: true, scope: ScopeField::Text({scope:?}) }},"
                    )
                    .expect("write to a String");
                }
            }
        }
    }
    write_out("service_routes.rs", out);
}
