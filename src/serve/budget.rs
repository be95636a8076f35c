//! The memory the gateway may spend on request bodies, across every request at once.
//!
//! The retry needs the whole request body, so serve buffers it; without a total, many
//! parallel uploads each under the per-request cap add up without bound. Every buffered
//! byte (the buffer's capacity, which is what is allocated) holds a permit of one semaphore
//! until the request is answered; a request that would go over the total is refused at once.

use axum::body::{Body, Bytes};
use bytes::BytesMut;
use futures::StreamExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Default largest request body (per request).
pub const MAX_BODY: usize = 32 << 20;
/// Default total of request bodies held at once, across all requests.
pub const BODY_BUDGET: usize = 64 << 20;

#[derive(Debug, PartialEq, Eq)]
pub enum BodyError {
    /// This body alone is over the per-request cap.
    TooLarge { max: usize },
    /// The bodies in flight would go over the total.
    OverBudget { total: usize },
    /// The client's upload failed.
    Read(String),
}

pub struct BodyBudget {
    sem: Arc<Semaphore>,
    total: usize,
    held: AtomicUsize,
    peak: AtomicUsize,
}

/// Bytes held for one request; given back when dropped.
pub struct Held {
    budget: Arc<BodyBudget>,
    permit: Option<OwnedSemaphorePermit>,
    bytes: usize,
}

impl BodyBudget {
    pub fn new(total: usize) -> Arc<Self> {
        Arc::new(BodyBudget {
            sem: Arc::new(Semaphore::new(total.min(Semaphore::MAX_PERMITS))),
            total,
            held: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
        })
    }

    /// Bytes held by request bodies right now.
    pub fn held(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }

    /// The most bytes ever held at once.
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    /// Reads a whole body of at most `max` bytes (`declared`: its Content-Length, if any),
    /// holding budget for what it allocates.
    pub async fn read(
        self: &Arc<Self>,
        body: Body,
        declared: Option<u64>,
        max: usize,
    ) -> Result<(Bytes, Held), BodyError> {
        let mut stream = body.into_data_stream();
        match self.fill(&mut stream, declared, max).await {
            Err(BodyError::OverBudget { total }) => {
                // Read the rest without keeping it (at most `max`): a client still sending
                // when the connection closes would see a reset, not the 413.
                let mut seen = 0;
                while let Some(Ok(chunk)) = stream.next().await {
                    seen += chunk.len();
                    if seen > max {
                        break;
                    }
                }
                Err(BodyError::OverBudget { total })
            }
            other => other,
        }
    }

    async fn fill(
        self: &Arc<Self>,
        stream: &mut axum::body::BodyDataStream,
        declared: Option<u64>,
        max: usize,
    ) -> Result<(Bytes, Held), BodyError> {
        let mut held = Held {
            budget: self.clone(),
            permit: None,
            bytes: 0,
        };
        let mut buf = BytesMut::new();
        if let Some(len) = declared {
            // Refuse a declared size before reading a byte of it.
            let len = usize::try_from(len).map_err(|_| BodyError::TooLarge { max })?;
            if len > max {
                return Err(BodyError::TooLarge { max });
            }
            held.grow(len)?;
            buf.reserve(len);
        }
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| BodyError::Read(e.to_string()))?;
            let len = buf.len() + chunk.len();
            if len > max {
                return Err(BodyError::TooLarge { max });
            }
            if len > buf.capacity() {
                // Choose the new capacity here (doubling, at most `max`) and hold it before
                // allocating it.
                let want = len.max(buf.capacity() * 2).min(max);
                if want > held.bytes {
                    held.grow(want)?;
                }
                buf.reserve(want - buf.len());
            }
            buf.extend_from_slice(&chunk);
            if buf.capacity() > held.bytes {
                held.grow(buf.capacity())?;
            }
        }
        Ok((buf.freeze(), held))
    }
}

impl Held {
    /// Holds `to` bytes in all (more than now).
    fn grow(&mut self, to: usize) -> Result<(), BodyError> {
        let more = to - self.bytes;
        let b = &self.budget;
        let over = || BodyError::OverBudget { total: b.total };
        let n = u32::try_from(more).map_err(|_| over())?;
        let permit = b
            .sem
            .clone()
            .try_acquire_many_owned(n)
            .map_err(|_| over())?;
        match &mut self.permit {
            Some(p) => p.merge(permit),
            None => self.permit = Some(permit),
        }
        self.bytes = to;
        let now = b.held.fetch_add(more, Ordering::Relaxed) + more;
        b.peak.fetch_max(now, Ordering::Relaxed);
        Ok(())
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.budget.held.fetch_sub(self.bytes, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunked(parts: usize, size: usize) -> Body {
        let chunks = (0..parts).map(move |_| Ok::<_, std::io::Error>(Bytes::from(vec![7u8; size])));
        Body::from_stream(futures::stream::iter(chunks))
    }

    #[tokio::test]
    async fn holds_what_it_reads_until_dropped() {
        let b = BodyBudget::new(1 << 20);
        let (body, held) = b.read(chunked(4, 1000), None, 1 << 20).await.expect("fits");
        assert_eq!(body.len(), 4000);
        assert!(b.held() >= 4000 && b.held() <= 8192, "{}", b.held());
        drop(held);
        assert_eq!(b.held(), 0);
        assert!(b.peak() >= 4000);
    }

    #[tokio::test]
    async fn refuses_over_the_request_cap_and_over_the_total() {
        let b = BodyBudget::new(10_000);
        let too_big = b.read(chunked(3, 1000), None, 2500).await;
        assert_eq!(too_big.err(), Some(BodyError::TooLarge { max: 2500 }));
        let declared = b.read(Body::empty(), Some(3000), 2500).await;
        assert_eq!(declared.err(), Some(BodyError::TooLarge { max: 2500 }));
        assert_eq!(b.held(), 0, "a refused body gives its bytes back");

        let (_first, held) = b.read(Body::empty(), Some(8000), 9000).await.expect("fits");
        let second = b.read(Body::empty(), Some(3000), 9000).await;
        assert_eq!(second.err(), Some(BodyError::OverBudget { total: 10_000 }));
        drop(held);
        assert!(b.read(Body::empty(), Some(3000), 9000).await.is_ok());
        assert!(b.peak() <= 10_000);
    }
}
