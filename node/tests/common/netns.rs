//! A network namespace joined to the test's own by a veth pair, for signers that must be
//! on "another machine" (needs root for `ip netns`).

use std::process::Command;

/// A network namespace with a veth pair to this one: `10.<subnet>.<n>.1` here, `.2` there.
pub struct Netns {
    /// The namespace's name (for `ip netns exec`).
    pub name: String,
    host_if: String,
    /// The address inside the namespace.
    pub there: String,
    /// The address on this side.
    pub here: String,
}

impl Netns {
    /// Makes it (`None` without the rights to); `tag` and `subnet` keep concurrent tests apart.
    pub fn new(tag: &str, subnet: u8) -> Option<Netns> {
        let ok = |args: &[&str]| {
            Command::new("ip")
                .args(args)
                .status()
                .is_ok_and(|s| s.success())
        };
        let n = std::process::id() % 250 + 1;
        let name = format!("cfxl-{tag}-{}", std::process::id());
        let (host_if, peer_if) = (format!("cfx{subnet}h{n}"), format!("cfx{subnet}p{n}"));
        if !ok(&["netns", "add", &name]) {
            return None;
        }
        let ns = Netns {
            name: name.clone(),
            host_if: host_if.clone(),
            there: format!("10.{subnet}.{n}.2"),
            here: format!("10.{subnet}.{n}.1"),
        };
        let here = format!("{}/30", ns.here);
        let there = format!("{}/30", ns.there);
        let steps: [&[&str]; 7] = [
            &[
                "link", "add", &host_if, "type", "veth", "peer", "name", &peer_if,
            ],
            &["link", "set", &peer_if, "netns", &name],
            &["addr", "add", &here, "dev", &host_if],
            &["link", "set", &host_if, "up"],
            &["-n", &name, "addr", "add", &there, "dev", &peer_if],
            &["-n", &name, "link", "set", &peer_if, "up"],
            &["-n", &name, "link", "set", "lo", "up"],
        ];
        for s in steps {
            assert!(ok(s), "ip {s:?} failed");
        }
        Some(ns)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", &self.host_if])
            .status();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}
