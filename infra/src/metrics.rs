//! A small Prometheus registry: counters, gauges and histograms by name,
//! rendered in the text exposition format at `/metrics`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

#[derive(Default)]
pub struct Registry {
    counters: Mutex<BTreeMap<String, (String, Arc<AtomicU64>)>>,
    gauges: Mutex<BTreeMap<String, (String, Arc<AtomicI64>)>>,
    histograms: Mutex<BTreeMap<String, (String, Arc<Histogram>)>>,
}

pub fn registry() -> &'static Registry {
    static R: OnceLock<Registry> = OnceLock::new();
    R.get_or_init(Registry::default)
}

pub fn counter(name: &str, help: &str) -> Arc<AtomicU64> {
    let mut m = registry().counters.lock().unwrap();
    m.entry(name.to_string())
        .or_insert_with(|| (help.to_string(), Arc::new(AtomicU64::new(0))))
        .1
        .clone()
}

pub fn gauge(name: &str, help: &str) -> Arc<AtomicI64> {
    let mut m = registry().gauges.lock().unwrap();
    m.entry(name.to_string())
        .or_insert_with(|| (help.to_string(), Arc::new(AtomicI64::new(0))))
        .1
        .clone()
}

pub fn histogram(name: &str, help: &str) -> Arc<Histogram> {
    let mut m = registry().histograms.lock().unwrap();
    m.entry(name.to_string())
        .or_insert_with(|| (help.to_string(), Arc::new(Histogram::default())))
        .1
        .clone()
}

/// Seconds, with buckets from 1 ms to 60 s.
pub struct Histogram {
    bounds: Vec<f64>,
    buckets: Vec<AtomicU64>,
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Self {
        let bounds = vec![
            0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 3.0, 5.0, 10.0,
            30.0, 60.0,
        ];
        let buckets = bounds.iter().map(|_| AtomicU64::new(0)).collect();
        Histogram {
            bounds,
            buckets,
            count: AtomicU64::new(0),
            sum_micros: AtomicU64::new(0),
        }
    }
}

impl Histogram {
    pub fn observe(&self, seconds: f64) {
        for (b, c) in self.bounds.iter().zip(&self.buckets) {
            if seconds <= *b {
                c.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros
            .fetch_add((seconds * 1e6) as u64, Ordering::Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    pub fn sum_seconds(&self) -> f64 {
        self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6
    }

    /// Upper bound of the bucket holding quantile `q` (what Prometheus' histogram_quantile approximates).
    pub fn quantile(&self, q: f64) -> f64 {
        let n = self.count.load(Ordering::Relaxed);
        if n == 0 {
            return 0.0;
        }
        let rank = (q * n as f64).ceil() as u64;
        for (b, c) in self.bounds.iter().zip(&self.buckets) {
            if c.load(Ordering::Relaxed) >= rank {
                return *b;
            }
        }
        f64::INFINITY
    }
}

pub fn render() -> String {
    let r = registry();
    let mut out = String::new();
    for (name, (help, c)) in r.counters.lock().unwrap().iter() {
        out += &format!(
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}\n",
            c.load(Ordering::Relaxed)
        );
    }
    for (name, (help, g)) in r.gauges.lock().unwrap().iter() {
        out += &format!(
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {}\n",
            g.load(Ordering::Relaxed)
        );
    }
    for (name, (help, h)) in r.histograms.lock().unwrap().iter() {
        out += &format!("# HELP {name} {help}\n# TYPE {name} histogram\n");
        for (b, c) in h.bounds.iter().zip(&h.buckets) {
            out += &format!(
                "{name}_bucket{{le=\"{b}\"}} {}\n",
                c.load(Ordering::Relaxed)
            );
        }
        let n = h.count.load(Ordering::Relaxed);
        out += &format!("{name}_bucket{{le=\"+Inf\"}} {n}\n{name}_count {n}\n");
        out += &format!(
            "{name}_sum {}\n",
            h.sum_micros.load(Ordering::Relaxed) as f64 / 1e6
        );
        // The design's alert thresholds are on p95/p99: expose them directly too.
        for (q, label) in [(0.95, "p95"), (0.99, "p99")] {
            out += &format!(
                "# TYPE {name}_{label} gauge\n{name}_{label} {}\n",
                h.quantile(q)
            );
        }
    }
    out
}
