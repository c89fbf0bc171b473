//! Foundation: inventory + snapshot → verified render, check, port, node-id.

use crate::harness::*;

#[test]
fn renders_bundled_example() {
    let env = Env::new();
    env.run([
        "render",
        "-i",
        example_inventory().to_str().unwrap(),
        "--out",
        "out",
    ])
    .success();
    assert!(env.path("out/alice/pion-1/peers.yaml").is_file());
}
