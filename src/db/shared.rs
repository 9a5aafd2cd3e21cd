//! Connections shared by concurrent requests, so their statements are pipelined.
//!
//! Every request runs one statement, outside any transaction. tokio-postgres sends the
//! statements issued concurrently on one client back to back without waiting for each answer,
//! and PostgreSQL reads and answers them in batches: one wake-up and one system call carry many
//! statements instead of one each, which on a small instance is most of a query's cost. So the
//! request path borrows one of a few long-held pool connections ("lanes"), chosen round-robin,
//! instead of holding a connection of its own for the statement's round trip.
//!
//! The pool still owns every connection: a lane is an ordinary checkout, held until its
//! connection closes (a restarted server, a terminated session after a password rotation), then
//! given back, where recycling drops it, and replaced by a fresh checkout, with fresh
//! credentials. With no lanes configured, every request checks out a connection of its own.
//!
//! Every call runs within a deadline ([`Connections::run`], [`Connections::exclusive`]). A call
//! that passes it says the server may be gone without a word (a failover that left the old
//! primary silent): its connection is cut off, and so is every lane and idle connection opened
//! before the call started, so that the next calls connect afresh (resolving the endpoint
//! again) instead of each waiting out a deadline of its own on a dead socket.

use std::ops::Deref;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::{DbError, Object, Pool, PoolError};

pub struct Connections {
    pool: Pool,
    /// The shared checkouts. A slot is `None` until first used and after its connection was
    /// found closed; a std mutex because it is only held to clone or swap an `Arc`.
    lanes: Box<[Mutex<Option<Arc<Object>>>]>,
    /// Spreads requests over the lanes.
    next: AtomicUsize,
    pub stats: CallStats,
}

/// What `/metrics` shows of calls that went wrong on the way to the database.
#[derive(Default)]
pub struct CallStats {
    /// Calls that passed their deadline.
    pub deadlines_exceeded: AtomicU64,
    /// Connections cut off because a call on them (or on an older one) timed out or lost its
    /// socket.
    pub connections_discarded: AtomicU64,
}

/// A connection for one request: a shared lane or an exclusive checkout.
pub enum Conn {
    Shared(Arc<Object>),
    /// Boxed: a pool object is over 200 bytes, and this is moved around on every request.
    Exclusive(Box<Object>),
}

impl Deref for Conn {
    type Target = Object;

    fn deref(&self) -> &Object {
        match self {
            Self::Shared(c) => c,
            Self::Exclusive(c) => c,
        }
    }
}

impl Connections {
    pub fn new(pool: Pool, lanes: usize) -> Self {
        Self {
            pool,
            lanes: (0..lanes).map(|_| Mutex::new(None)).collect(),
            next: AtomicUsize::new(0),
            stats: CallStats::default(),
        }
    }

    /// Runs `op` on a connection for one statement (a shared lane, or a checkout of its own
    /// when no lanes are configured), checkout included, within `deadline`.
    pub async fn run<T>(
        &self,
        deadline: Duration,
        op: impl AsyncFnOnce(&Object) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        let started = Instant::now();
        let until = tokio::time::Instant::from_std(started + deadline);
        let conn = match tokio::time::timeout_at(until, self.get()).await {
            Ok(conn) => conn?,
            Err(_) => return Err(self.timed_out(deadline)),
        };
        let result = tokio::time::timeout_at(until, op(&conn)).await;
        self.settle(&conn, started, deadline, result)
    }

    /// Runs `op` on a connection of its own (the health probe, `/db`, migrations), never a
    /// lane, checkout included, within `deadline`.
    pub async fn exclusive<T>(
        &self,
        deadline: Duration,
        op: impl AsyncFnOnce(&mut Object) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        let started = Instant::now();
        let until = tokio::time::Instant::from_std(started + deadline);
        let mut conn = match tokio::time::timeout_at(until, self.pool.get()).await {
            Ok(conn) => conn?,
            Err(_) => return Err(self.timed_out(deadline)),
        };
        let result = tokio::time::timeout_at(until, op(&mut conn)).await;
        self.settle(&conn, started, deadline, result)
    }

    fn timed_out(&self, deadline: Duration) -> DbError {
        self.stats
            .deadlines_exceeded
            .fetch_add(1, Ordering::Relaxed);
        DbError::Timeout(deadline)
    }

    /// What a call's outcome means for the connections.
    fn settle<T>(
        &self,
        conn: &Object,
        started: Instant,
        deadline: Duration,
        result: Result<Result<T, DbError>, tokio::time::error::Elapsed>,
    ) -> Result<T, DbError> {
        match result {
            Ok(Err(e)) if e.is_connection_lost() => {
                self.discard(conn);
                Err(e)
            }
            Ok(result) => result,
            Err(_) => {
                self.discard(conn);
                self.discard_older_than(started);
                Err(self.timed_out(deadline))
            }
        }
    }

    fn discard(&self, conn: &Object) {
        if conn.is_usable() {
            self.stats
                .connections_discarded
                .fetch_add(1, Ordering::Relaxed);
        }
        conn.discard();
    }

    /// Cuts off every lane and drops every idle connection opened before `since`: they may lead
    /// to the same silent server. Those opened since are the ones that already reconnected.
    fn discard_older_than(&self, since: Instant) {
        for lane in self.lanes.iter() {
            let mut slot = lock(lane);
            if slot.as_ref().is_some_and(|conn| conn.opened < since) {
                if let Some(conn) = slot.take() {
                    self.discard(&conn);
                }
            }
        }
        let dropped = self.pool.retain(|conn, _| conn.opened >= since).removed;
        for conn in &dropped {
            conn.discard();
        }
        self.stats
            .connections_discarded
            .fetch_add(dropped.len() as u64, Ordering::Relaxed);
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// A connection to run one statement on.
    pub async fn get(&self) -> Result<Conn, PoolError> {
        if self.lanes.is_empty() {
            return Ok(Conn::Exclusive(Box::new(self.pool.get().await?)));
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.lanes.len();
        let lane = &self.lanes[i];
        if let Some(conn) = live(&mut lock(lane)) {
            return Ok(Conn::Shared(conn));
        }
        // Checked out without the lock held: opening a connection takes a round trip or more.
        let fresh = Arc::new(self.pool.get().await?);
        let mut slot = lock(lane);
        // Another request may have refilled the lane meanwhile; then ours goes back to the pool
        // when dropped.
        let conn = live(&mut slot).unwrap_or_else(|| {
            *slot = Some(Arc::clone(&fresh));
            fresh
        });
        Ok(Conn::Shared(conn))
    }

    /// Gives every lane back to the pool, before it closes at shutdown.
    pub fn release(&self) {
        for lane in self.lanes.iter() {
            lock(lane).take();
        }
    }
}

fn lock(lane: &Mutex<Option<Arc<Object>>>) -> MutexGuard<'_, Option<Arc<Object>>> {
    lane.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The lane's connection if it is usable; a closed or broken one is taken out, to be dropped by
/// its last user and so returned to the pool, which discards it.
fn live(slot: &mut Option<Arc<Object>>) -> Option<Arc<Object>> {
    if slot.as_ref().is_some_and(|conn| !conn.is_usable()) {
        slot.take();
    }
    slot.clone()
}
