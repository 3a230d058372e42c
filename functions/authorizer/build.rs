//! The route table's input, read at build time.
//!
//! The authorizer's route → scope table comes from `api/openapi.yaml`.
//! Parsing the YAML at start-up was most of the cold start, so this script
//! reads the operations with `portcullis_contract` (the one reader of the
//! contract, which `OPENAPI_FILE` also goes through at start-up) and writes
//! them to `$OUT_DIR/operations.rs`, which `routes::EMBEDDED_OPERATIONS`
//! includes. The rules (which operations need a scope, the scope syntax)
//! stay in `routes.rs` and run at start-up on this list.
//!
//! It also reads platform.yaml with `portcullis_platform` (validated, as
//! every function loads it) and writes:
//! - `$OUT_DIR/service_routes.rs` (`routes::EMBEDDED_SERVICE_ROUTES`): the
//!   scoped routes the services declare (`services.<name>.routes`) as
//!   operations on `/v1/services/<name><path>`
//!   (`Services::route_operations`), the paths Terraform adds to the REST
//!   API body. Public routes are left out: API Gateway runs no authorizer
//!   for them.
//! - `$OUT_DIR/vpc_link_services.rs` (`signing::EMBEDDED_VPC_LINK_SERVICES`):
//!   the `integration: vpc_link` services (name, `path_prefix`,
//!   `environments`), whose identity the authorizer signs.
//!
//! An invalid contract or registry fails the build with the reason.

use portcullis_contract::{Contract, Operation, rust_slice};
use portcullis_platform::Platform;
use portcullis_platform::services::{Integration, Services};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let manifest =
        PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let openapi = manifest.join("../../api/openapi.yaml");
    let contract = Contract::from_yaml(&read(&openapi))
        .unwrap_or_else(|e| panic!("{}: {e}", openapi.display()));
    let operations: Vec<Operation> = contract.operations().cloned().collect();
    write_out("operations.rs", &rust_slice(&operations));

    let registry = manifest.join("../../platform.yaml");
    let platform = Platform::from_yaml(&read(&registry))
        .unwrap_or_else(|e| panic!("{}: {e}", registry.display()));
    let scoped: Vec<Operation> = platform
        .services
        .route_operations()
        .into_iter()
        .filter(|o| o.secured)
        .collect();
    write_out("service_routes.rs", &rust_slice(&scoped));
    write_out(
        "vpc_link_services.rs",
        &vpc_link_services(&platform.services),
    );
}

/// The text of `path`; the build reruns when it changes.
fn read(path: &Path) -> String {
    println!("cargo:rerun-if-changed={}", path.display());
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// `text` written to `$OUT_DIR/<name>`.
fn write_out(name: &str, text: &str) {
    let dest = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR")).join(name);
    std::fs::write(&dest, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", dest.display()));
}

/// The `integration: vpc_link` services, as a slice of `VpcLinkService`.
fn vpc_link_services(services: &Services) -> String {
    let mut out = String::from("&[\n");
    for s in services
        .iter()
        .filter(|s| s.integration == Integration::VpcLink)
    {
        let environments = match &s.environments {
            None => "None".to_owned(),
            Some(list) => format!("Some(&{list:?})"),
        };
        writeln!(
            out,
            "    VpcLinkService {{ name: {:?}, path_prefix: {:?}, environments: {environments} }},",
            s.name, s.path_prefix
        )
        .expect("write to a String");
    }
    out.push(']');
    out
}
