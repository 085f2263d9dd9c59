//! What secrets and network policies add, per operation, timed alone (no
//! broker, no database): sealing and opening a secret version (what a write
//! costs the API and a pod start the agent), re-wrapping a data key (what a
//! rotation costs per secret), verifying a pod's identity token and the
//! network-policy verdict among many policies (what every request through
//! the gateway costs once some policy exists).
//!
//! ```sh
//! ./target/release/netsec --policies 200 --iterations 20000
//! ```

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Instant;

use clap::Parser;
use domain::names::Name;
use domain::networkpolicy::{
    IngressRule, NAMESPACE_NAME_LABEL, NetworkPolicy, NetworkPolicySpec, Peer, Source, admits,
};
use infra::keyring::{Keyring, Plain, generate_line};

#[derive(Parser)]
struct Args {
    /// Policies in the destination's namespace (one selects the pod, and only
    /// the last rule of the last one lets the caller in).
    #[arg(long, default_value_t = 200)]
    policies: usize,
    #[arg(long, default_value_t = 20_000)]
    iterations: u32,
    /// Keys per secret, of `--value-bytes` each.
    #[arg(long, default_value_t = 5)]
    keys: usize,
    #[arg(long, default_value_t = 64)]
    value_bytes: usize,
}

fn per_op(label: &str, n: u32, f: impl FnMut()) -> f64 {
    let mut f = f;
    let t = Instant::now();
    for _ in 0..n {
        f();
    }
    let us = t.elapsed().as_secs_f64() * 1e6 / n as f64;
    println!(
        "{label:<58} {us:>9.2} µs  ({:>10.0}/s on one core)",
        1e6 / us
    );
    us
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    let name = |s: &str| Name::parse("name", s).expect("a valid name");
    let k1 = generate_line("k1");
    let ring = Keyring::parse(&format!("{k1}\n{}", generate_line("k2")))?;
    let old = Keyring::parse(&k1)?;
    let values: BTreeMap<String, Plain> = (0..a.keys)
        .map(|i| {
            (
                format!("key{i}"),
                zeroize::Zeroizing::new(vec![b'x'; a.value_bytes]),
            )
        })
        .collect();
    let n = a.iterations;
    println!(
        "secrets: {} keys of {} bytes; policies: {} in the namespace; {} iterations each",
        a.keys, a.value_bytes, a.policies, n
    );
    per_op("seal a secret version (fresh data key, wrap)", n, || {
        black_box(ring.seal("shop", "db", 1, &values).unwrap());
    });
    let data = old.seal("shop", "db", 1, &values)?;
    per_op("open a secret version (unwrap, every value)", n, || {
        black_box(old.open("shop", "db", 1, &data).unwrap());
    });
    per_op("re-wrap its data key under the active key", n, || {
        black_box(ring.rewrap("shop", "db", 1, &data).unwrap());
    });
    let token = ring.pod_token("0193a8f0-1c2d-7e3f-8a4b-5c6d7e8f9a0b");
    per_op("verify a pod identity token", n, || {
        black_box(ring.verify_pod_token(&token).unwrap());
    });

    // Policies: all select app=web; each admits a different app, the last
    // one the caller's (the worst case: every rule of every policy read).
    let policies: Vec<NetworkPolicy> = (0..a.policies)
        .map(|i| NetworkPolicy {
            namespace: name("shop"),
            name: name(&format!("p{i}")),
            spec: NetworkPolicySpec {
                pod_selector: labels(&[("app", "web")]),
                ingress: vec![IngressRule {
                    from: vec![Peer {
                        pod_selector: Some(labels(&[(
                            "app",
                            if i + 1 == a.policies {
                                "front"
                            } else {
                                "other"
                            },
                        )])),
                        ..Default::default()
                    }],
                    ports: vec![],
                }],
            },
        })
        .collect();
    let dest = labels(&[("app", "web")]);
    let src = labels(&[("app", "front")]);
    let ns = labels(&[(NAMESPACE_NAME_LABEL, "shop")]);
    let caller = Source::Pod {
        namespace: "shop",
        labels: &src,
        namespace_labels: &ns,
    };
    let v = admits(&policies, "shop", &dest, 8080, &caller);
    assert!(v.allowed, "the last policy admits the caller");
    per_op(
        &format!(
            "network-policy verdict among {} policies (allowed)",
            a.policies
        ),
        n,
        || {
            black_box(admits(&policies, "shop", &dest, 8080, &caller));
        },
    );
    per_op(
        &format!(
            "network-policy verdict among {} policies (refused)",
            a.policies
        ),
        n,
        || {
            black_box(admits(&policies, "shop", &dest, 8080, &Source::External));
        },
    );
    Ok(())
}
