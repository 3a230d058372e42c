//! Prints the metric catalogue (`portcullis_core::metrics`) as one line of
//! JSON: `{"namespace":"Portcullis","metrics":[{"name":..,"unit":..,"dimensions":[..]},..]}`.
//! The Terraform cross-check (tests/terraform) compares the alarms' metric
//! names with it.
//!
//! `cargo run -q -p portcullis-core --example metrics-catalogue`

use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    let json = portcullis_core::metrics::catalogue_json();
    match writeln!(std::io::stdout(), "{json}") {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("metrics-catalogue: {e}");
            ExitCode::FAILURE
        }
    }
}
