//! PostgreSQL notifications of committed changes, for what replicas keep in memory (tenants,
//! who is signed in). Triggers send them whoever writes (a replica, the CLI, a manual
//! `UPDATE`); one connection per process listens on every channel and hands each notification
//! to the follower of its channel. SQLite has no notifications: nothing is followed there.

use std::{sync::Arc, time::Duration};

use sqlx::postgres::PgListener;

use super::Db;

/// How long a lost listener waits before it connects again.
const RECONNECT_AFTER: Duration = Duration::from_millis(500);

/// Something a replica keeps in memory and forgets as it is told of changes.
pub trait Follower: Send + Sync + 'static {
    /// The channel its changes are notified on.
    fn channel(&self) -> &'static str;

    /// The listener is listening: every change committed from now on is notified.
    fn listening(&self) {}

    /// A committed change, as its trigger describes it.
    fn notified(&self, payload: &str);

    /// Changes may have been missed (the connection was lost, or never made).
    fn missed(&self);
}

/// Follows changes for `followers` until the returned task is aborted; `None` on SQLite.
pub fn follow(db: &Db, followers: Vec<Arc<dyn Follower>>) -> Option<tokio::task::JoinHandle<()>> {
    let Db::Postgres(pool) = db else {
        return None;
    };
    let pool = pool.clone();
    Some(tokio::spawn(async move {
        let channels: Vec<&str> = followers
            .iter()
            .map(|follower| follower.channel())
            .collect();
        loop {
            match PgListener::connect_with(&pool).await {
                Ok(mut listener) => match listener.listen_all(channels.iter().copied()).await {
                    Ok(()) => {
                        for follower in &followers {
                            follower.listening();
                        }
                        dispatch(&mut listener, &followers).await;
                    }
                    Err(err) => tracing::warn!(error = %err, "could not listen for changes"),
                },
                Err(err) => tracing::warn!(error = %err, "could not listen for changes"),
            }
            for follower in &followers {
                follower.missed();
            }
            tokio::time::sleep(RECONNECT_AFTER).await;
        }
    }))
}

/// Hands each notification to its channel's followers, until the connection fails.
async fn dispatch(listener: &mut PgListener, followers: &[Arc<dyn Follower>]) {
    // `None` is a lost connection: the caller reconnects (and tells the followers first).
    while let Ok(Some(notification)) = listener.try_recv().await {
        for follower in followers {
            if follower.channel() == notification.channel() {
                follower.notified(notification.payload());
            }
        }
    }
}
