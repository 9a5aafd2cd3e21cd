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

use std::ops::Deref;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::{Object, Pool, PoolError};

pub struct Connections {
    pool: Pool,
    /// The shared checkouts. A slot is `None` until first used and after its connection was
    /// found closed; a std mutex because it is only held to clone or swap an `Arc`.
    lanes: Box<[Mutex<Option<Arc<Object>>>]>,
    /// Spreads requests over the lanes.
    next: AtomicUsize,
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
        }
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

/// The lane's connection if it is open; a closed one is taken out, to be dropped by its last
/// user and so returned to the pool, which discards it.
fn live(slot: &mut Option<Arc<Object>>) -> Option<Arc<Object>> {
    if slot.as_ref().is_some_and(|conn| conn.is_closed()) {
        slot.take();
    }
    slot.clone()
}
