// `sqlx::migrate!` embeds migrations/ at compile time; rebuild when a
// migration is added or changed so a new one is always applied too.
fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
