//! An in-memory projection of the event log: the same `State::evolve` fold
//! the decider uses, kept current by a follower task. Reconcilers and node
//! agents read it like an informer cache.

use std::sync::Arc;
use std::time::Duration;

use domain::{EventBatch, State};
use tokio::sync::{RwLock, watch};
use tokio_util::sync::CancellationToken;

use crate::Result;
use crate::kafka::{EventFollower, KafkaConfig};

#[derive(Clone)]
pub struct View {
    pub state: Arc<RwLock<State>>,
    /// The next offset to be folded; changes on every applied poll.
    pub offset: watch::Receiver<i64>,
}

/// Follow the event log from `from`, folding into a shared state. `observe`
/// sees every batch (after it is folded), for metrics and rejections.
pub async fn spawn_view<F>(
    kafka: &KafkaConfig,
    from: i64,
    shutdown: CancellationToken,
    mut observe: F,
) -> Result<View>
where
    F: FnMut(i64, &EventBatch) + Send + 'static,
{
    let mut follower = EventFollower::new(kafka, from, 0)?;
    let state = Arc::new(RwLock::new(State::default()));
    let (tx, rx) = watch::channel(from);
    let st = state.clone();
    tokio::spawn(async move {
        while let Some(batches) = follower
            .next_until(&shutdown, 5000, Duration::from_millis(200))
            .await
        {
            if !batches.is_empty() {
                let mut s = st.write().await;
                for (_, b) in &batches {
                    for env in &b.events {
                        s.apply(env);
                    }
                }
            }
            for (off, b) in &batches {
                observe(*off, b);
            }
            let _ = tx.send(follower.next_offset);
        }
    });
    Ok(View { state, offset: rx })
}
