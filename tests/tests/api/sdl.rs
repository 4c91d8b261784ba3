//! The checked-in SDL matches the code.

#[test]
fn checked_in_sdl_matches_the_code() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../schema/schema.graphql");
    let on_disk = std::fs::read_to_string(path).unwrap_or_default();
    let generated = alatar_schema::sdl();
    assert!(
        on_disk == generated,
        "schema/schema.graphql is stale: run `cargo run -p alatar-server -- schema > schema/schema.graphql`"
    );
}
