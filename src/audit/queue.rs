//! The file writer's inbox: a queue that wakes its writer once per batch, not once per
//! record. An idle writer is woken by the first message; a writer gathering a batch
//! (records announced as coming, [`super::Coming`]) only when nothing more is announced,
//! when the queue is full or on close. Every such check is made under the queue's lock
//! against the announced count, which a record decrements before it is queued, so no
//! wake-up is lost: at worst a record waits out the gather window.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Instant;

/// What the writer is doing, for the senders' choice to wake it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Doing {
    /// Writing or syncing: it looks at the queue again when done.
    Busy,
    /// Waiting for a first message.
    Idle,
    /// Holding a batch open for records announced as coming.
    Gathering,
}

struct Inbox<T> {
    msgs: Vec<T>,
    doing: Doing,
    /// The writer is gone: senders fail, queued replies were dropped.
    gone: bool,
}

struct Shared<T> {
    inbox: Mutex<Inbox<T>>,
    wake: Condvar,
    /// Records announced and not yet queued.
    coming: Arc<AtomicUsize>,
    /// Messages that end a gathering early by their number alone.
    full: usize,
    /// A message that ends a gathering at once (a close).
    urgent: fn(&T) -> bool,
}

/// The senders' side (cheap to clone).
pub(super) struct QueueTx<T>(Arc<Shared<T>>);

/// The writer's side; dropping it (the writer stopped) fails every later send.
pub(super) struct QueueRx<T>(Arc<Shared<T>>);

/// A queue whose gathering ends once `coming` is 0, `full` messages wait or an
/// `urgent` one is queued.
pub(super) fn queue<T>(
    coming: Arc<AtomicUsize>,
    full: usize,
    urgent: fn(&T) -> bool,
) -> (QueueTx<T>, QueueRx<T>) {
    let shared = Arc::new(Shared {
        inbox: Mutex::new(Inbox { msgs: Vec::new(), doing: Doing::Busy, gone: false }),
        wake: Condvar::new(),
        coming,
        full,
        urgent,
    });
    (QueueTx(shared.clone()), QueueRx(shared))
}

impl<T> Shared<T> {
    fn lock(&self) -> Option<MutexGuard<'_, Inbox<T>>> {
        self.inbox.lock().ok()
    }

    fn nothing_coming(&self) -> bool {
        self.coming.load(Ordering::Acquire) == 0
    }

    /// At most `full` messages, the oldest (one write and sync stays bounded).
    fn take(&self, inbox: &mut Inbox<T>) -> Vec<T> {
        if inbox.msgs.len() <= self.full {
            std::mem::take(&mut inbox.msgs)
        } else {
            inbox.msgs.drain(..self.full).collect()
        }
    }

    /// Wakes the writer if what it waits for is there (the caller holds the lock).
    fn maybe_wake(&self, inbox: &mut Inbox<T>, urgent: bool) {
        let wake = match inbox.doing {
            Doing::Busy => false,
            Doing::Idle => !inbox.msgs.is_empty(),
            Doing::Gathering => urgent || self.nothing_coming() || inbox.msgs.len() >= self.full,
        };
        if wake {
            inbox.doing = Doing::Busy;
            self.wake.notify_one();
        }
    }
}

impl<T> Clone for QueueTx<T> {
    fn clone(&self) -> Self {
        QueueTx(self.0.clone())
    }
}

impl<T> QueueTx<T> {
    /// Queues `msg`; `Err` with it back when the writer is gone.
    pub(super) fn send(&self, msg: T) -> Result<(), T> {
        let Some(mut inbox) = self.0.lock() else { return Err(msg) };
        if inbox.gone {
            return Err(msg);
        }
        let urgent = (self.0.urgent)(&msg);
        inbox.msgs.push(msg);
        self.0.maybe_wake(&mut inbox, urgent);
        Ok(())
    }

    /// An announced record will not come: a gathering writer may stop waiting for it.
    pub(super) fn poke(&self) {
        if let Some(mut inbox) = self.0.lock() {
            self.0.maybe_wake(&mut inbox, false);
        }
    }
}

impl<T> QueueRx<T> {
    /// Waits for messages and takes them all; `None` if the queue broke.
    pub(super) fn recv(&self) -> Option<Vec<T>> {
        let mut inbox = self.0.lock()?;
        while inbox.msgs.is_empty() {
            inbox.doing = Doing::Idle;
            inbox = self.0.wake.wait(inbox).ok()?;
        }
        inbox.doing = Doing::Busy;
        Some(self.0.take(&mut inbox))
    }

    /// Waits until nothing more is announced, `full` messages wait, a close comes or
    /// `deadline` passes, then takes what was queued meanwhile (possibly nothing).
    pub(super) fn gather(&self, deadline: Instant) -> Vec<T> {
        let Some(mut inbox) = self.0.lock() else { return Vec::new() };
        loop {
            let closing = inbox.msgs.iter().any(self.0.urgent);
            let now = Instant::now();
            if closing || self.0.nothing_coming() || inbox.msgs.len() >= self.0.full || now >= deadline {
                break;
            }
            inbox.doing = Doing::Gathering;
            match self.0.wake.wait_timeout(inbox, deadline - now) {
                Ok((guard, _)) => inbox = guard,
                Err(_) => return Vec::new(),
            }
        }
        inbox.doing = Doing::Busy;
        self.0.take(&mut inbox)
    }
}

impl<T> Drop for QueueRx<T> {
    fn drop(&mut self) {
        // Replies still queued are dropped with their messages: those callers hear
        // that the writer stopped.
        let msgs = match self.0.inbox.lock() {
            Ok(mut inbox) => {
                inbox.gone = true;
                std::mem::take(&mut inbox.msgs)
            }
            Err(poisoned) => {
                let mut inbox = poisoned.into_inner();
                inbox.gone = true;
                std::mem::take(&mut inbox.msgs)
            }
        };
        drop(msgs);
    }
}
