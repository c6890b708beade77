//! The hash chain over audit events, checkpoints and verification.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};
use zorgkluis_crypto::AuditVerifier;

use crate::event::{AuditEvent, EventKeys};

/// The hash before the first event.
pub const GENESIS_HASH: [u8; 32] = [0u8; 32];

/// The end of the chain: last sequence number and hash (0 and [`GENESIS_HASH`] when empty).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainHead {
    /// Sequence number of the last event.
    pub seq: i64,
    /// Hash of the last event.
    pub hash: [u8; 32],
}

impl Default for ChainHead {
    fn default() -> Self {
        Self {
            seq: 0,
            hash: GENESIS_HASH,
        }
    }
}

/// An event as stored: its place in the chain, the canonical payload, and the columns the
/// database indexes (which verification checks against the payload).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainedEvent {
    /// Position in the chain, from 1 without gaps.
    pub seq: i64,
    /// Hash of the previous event.
    pub prev_hash: [u8; 32],
    /// This event's hash.
    pub hash: [u8; 32],
    /// Canonical JSON of the [`AuditEvent`].
    pub payload: String,
    /// Event id (indexed).
    pub event_id: String,
    /// Occurred at (indexed).
    pub occurred_at: String,
    /// Patient compartment (indexed).
    pub patient_id: Option<String>,
    /// Acting user (indexed).
    pub user_id: String,
    /// Event code (indexed).
    pub code: String,
    /// Outcome (indexed).
    pub outcome: String,
}

fn chain_hash(prev: &[u8; 32], seq: i64, payload: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(prev);
    h.update(seq.to_be_bytes());
    h.update(payload.as_bytes());
    h.finalize().into()
}

/// Where an event goes in the chain, without a copy of the event: what the fold inserts,
/// borrowing the keys and payload from the events it folds.
#[derive(Debug, Clone, Copy)]
pub struct Link {
    /// Position in the chain.
    pub seq: i64,
    /// Hash of the previous event.
    pub prev_hash: [u8; 32],
    /// This event's hash.
    pub hash: [u8; 32],
}

impl ChainHead {
    /// Links the event with canonical serialisation `payload` after this head and moves the
    /// head.
    pub fn link(&mut self, payload: &str) -> Link {
        let seq = self.seq + 1;
        let hash = chain_hash(&self.hash, seq, payload);
        let link = Link {
            seq,
            prev_hash: self.hash,
            hash,
        };
        self.seq = seq;
        self.hash = hash;
        link
    }

    /// Appends `event` after this head and moves the head.
    pub fn append(&mut self, event: &AuditEvent) -> ChainedEvent {
        self.append_canonical(&event.keys(), event.canonical())
    }

    /// Appends `event` whose canonical serialisation `payload` was already made (by the
    /// journal), so that it is not serialised twice.
    pub fn append_canonical(&mut self, event: &EventKeys, payload: String) -> ChainedEvent {
        let Link {
            seq,
            prev_hash,
            hash,
        } = self.link(&payload);
        ChainedEvent {
            seq,
            prev_hash,
            hash,
            payload,
            event_id: event.event_id.clone(),
            occurred_at: event.occurred_at.clone(),
            patient_id: event.patient_id.clone(),
            user_id: event.user_id.clone(),
            code: event.code.as_str().to_owned(),
            outcome: event.outcome.as_str().to_owned(),
        }
    }
}

/// A signed statement "the chain had hash H at sequence number N".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// Sequence number.
    pub seq: i64,
    /// Chain hash at that number.
    pub hash: [u8; 32],
    /// Id of the signing key.
    pub key_id: String,
    /// Ed25519 signature of [`checkpoint_message`].
    pub signature: Vec<u8>,
    /// When it was signed.
    pub signed_at: String,
}

/// The bytes a checkpoint signs.
pub fn checkpoint_message(seq: i64, hash: &[u8; 32]) -> Vec<u8> {
    format!("zorgkluis-audit-checkpoint|{seq}|{}", hex::encode(hash)).into_bytes()
}

/// The first problem found in the chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("audit chain broken at event #{seq} ({event_id}): {problem}")]
pub struct VerifyFailure {
    /// Sequence number of the first bad event (or where one is missing).
    pub seq: i64,
    /// Its event id, or `-` when the event is missing.
    pub event_id: String,
    /// What is wrong.
    pub problem: String,
}

/// Result of a successful verification.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Events checked.
    pub events: i64,
    /// Signed checkpoints checked.
    pub checkpoints: usize,
    /// Hash of the last event.
    pub head_hash: String,
}

/// Walks the chain event by event; feed events in `seq` order, then call
/// [`Verifier::finish`](verify::Verifier::finish).
pub mod verify {
    use super::*;

    /// A streaming verifier, so that millions of events are checked in constant memory.
    pub struct Verifier<'a> {
        expected_seq: i64,
        running: [u8; 32],
        checkpoints: &'a BTreeMap<i64, Checkpoint>,
        verifier: &'a AuditVerifier,
        checked_checkpoints: usize,
    }

    impl<'a> Verifier<'a> {
        /// Starts at the genesis.
        pub fn new(
            checkpoints: &'a BTreeMap<i64, Checkpoint>,
            verifier: &'a AuditVerifier,
        ) -> Self {
            Self {
                expected_seq: 1,
                running: GENESIS_HASH,
                checkpoints,
                verifier,
                checked_checkpoints: 0,
            }
        }

        /// Checks the next event.
        pub fn feed(&mut self, e: &ChainedEvent) -> Result<(), VerifyFailure> {
            let fail = |problem: String| VerifyFailure {
                seq: e.seq,
                event_id: e.event_id.clone(),
                problem,
            };
            if e.seq != self.expected_seq {
                return Err(VerifyFailure {
                    seq: self.expected_seq,
                    event_id: "-".into(),
                    problem: if e.seq > self.expected_seq {
                        format!(
                            "event(s) #{}..#{} are missing (next stored event is #{})",
                            self.expected_seq,
                            e.seq - 1,
                            e.seq
                        )
                    } else {
                        format!(
                            "events out of order: #{} follows #{}",
                            e.seq,
                            self.expected_seq - 1
                        )
                    },
                });
            }
            if e.prev_hash != self.running {
                return Err(fail(
                    "does not link to the previous event (an event before it was altered, removed or reordered)".into(),
                ));
            }
            if chain_hash(&e.prev_hash, e.seq, &e.payload) != e.hash {
                return Err(fail("content altered: hash does not match".into()));
            }
            let parsed: AuditEvent = serde_json::from_str(&e.payload)
                .map_err(|_| fail("payload is not a valid audit event".into()))?;
            if parsed.event_id != e.event_id
                || parsed.occurred_at != e.occurred_at
                || parsed.object.patient_id != e.patient_id
                || parsed.actor.user_id != e.user_id
                || parsed.code.as_str() != e.code
                || parsed.outcome.as_str() != e.outcome
            {
                return Err(fail(
                    "indexed columns altered: they differ from the signed content".into(),
                ));
            }
            if let Some(cp) = self.checkpoints.get(&e.seq) {
                if cp.hash != e.hash {
                    return Err(fail(
                        "differs from the signed checkpoint at this position".into(),
                    ));
                }
                if cp.key_id != self.verifier.id()
                    || !self
                        .verifier
                        .verify(&checkpoint_message(cp.seq, &cp.hash), &cp.signature)
                {
                    return Err(fail(
                        "checkpoint signature is not valid for the audit signing key".into(),
                    ));
                }
                self.checked_checkpoints += 1;
            }
            self.running = e.hash;
            self.expected_seq += 1;
            Ok(())
        }

        /// Final checks: the stored head matches the last event, and no signed checkpoint
        /// lies beyond the end (which would mean events were cut off).
        pub fn finish(self, head: ChainHead) -> Result<VerifyReport, VerifyFailure> {
            let last = self.expected_seq - 1;
            if let Some((&cp_seq, _)) = self.checkpoints.range(last + 1..).next() {
                return Err(VerifyFailure {
                    seq: last + 1,
                    event_id: "-".into(),
                    problem: format!(
                        "events #{}..#{cp_seq} were removed: a signed checkpoint covers #{cp_seq}",
                        last + 1
                    ),
                });
            }
            if self.checkpoints.len() != self.checked_checkpoints {
                return Err(VerifyFailure {
                    seq: 0,
                    event_id: "-".into(),
                    problem: "a signed checkpoint points at an event that is not in the chain"
                        .into(),
                });
            }
            if head.seq != last || head.hash != self.running {
                return Err(VerifyFailure {
                    seq: last + 1,
                    event_id: "-".into(),
                    problem: format!(
                        "the chain head says #{} but the last stored event is #{last}: events at the end were removed",
                        head.seq
                    ),
                });
            }
            Ok(VerifyReport {
                events: last,
                checkpoints: self.checked_checkpoints,
                head_hash: hex::encode(self.running),
            })
        }
    }
}

/// Verifies a whole chain held in memory (tests, small trails).
pub fn verify<'a>(
    events: impl IntoIterator<Item = &'a ChainedEvent>,
    checkpoints: &BTreeMap<i64, Checkpoint>,
    head: ChainHead,
    verifier: &AuditVerifier,
) -> Result<VerifyReport, VerifyFailure> {
    let mut v = verify::Verifier::new(checkpoints, verifier);
    for e in events {
        v.feed(e)?;
    }
    v.finish(head)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::*;
    use zorgkluis_crypto::AuditSigner;
    use zorgkluis_domain::Actor;

    fn event(n: usize) -> AuditEvent {
        AuditEvent {
            event_id: format!("ev-{n}"),
            occurred_at: "2026-11-23T05:00:00.000Z".into(),
            code: EventCode::Read,
            action: Action::R,
            event_type: "patient-record".into(),
            outcome: Outcome::Success,
            reason: None,
            controls: Controls::default(),
            actor: Actor::operator_tool("test"),
            channel: Channel::OperatorTool,
            purpose: "HOPERAT".into(),
            object: AuditObject {
                patient_id: Some(format!("p{}", n % 3)),
                ..Default::default()
            },
            authorisation_protocol: "test@1".into(),
            consent_profile: "none".into(),
            relationship_protocol: None,
            source: "zorgkluis-test".into(),
        }
    }

    fn build(
        n: usize,
    ) -> (
        Vec<ChainedEvent>,
        ChainHead,
        BTreeMap<i64, Checkpoint>,
        AuditSigner,
    ) {
        let signer = AuditSigner::from_seed("ak-t".into(), [1u8; 32]);
        let mut head = ChainHead::default();
        let mut cps = BTreeMap::new();
        let events: Vec<_> = (0..n)
            .map(|i| {
                let e = head.append(&event(i));
                if e.seq % 4 == 0 {
                    cps.insert(
                        e.seq,
                        Checkpoint {
                            seq: e.seq,
                            hash: e.hash,
                            key_id: signer.id().into(),
                            signature: signer.sign(&checkpoint_message(e.seq, &e.hash)),
                            signed_at: String::new(),
                        },
                    );
                }
                e
            })
            .collect();
        (events, head, cps, signer)
    }

    #[test]
    fn intact_chain_verifies() {
        let (ev, head, cps, s) = build(10);
        let r = verify(&ev, &cps, head, &s.verifier()).unwrap();
        assert_eq!(r.events, 10);
        assert_eq!(r.checkpoints, 2);
    }

    #[test]
    fn altered_payload_is_named() {
        let (mut ev, head, cps, s) = build(10);
        ev[5].payload = ev[5].payload.replace("HOPERAT", "TREAT");
        let f = verify(&ev, &cps, head, &s.verifier()).unwrap_err();
        assert_eq!((f.seq, f.event_id.as_str()), (6, "ev-5"));
    }

    #[test]
    fn altered_index_column_is_named() {
        let (mut ev, head, cps, s) = build(10);
        ev[2].patient_id = Some("someone-else".into());
        let f = verify(&ev, &cps, head, &s.verifier()).unwrap_err();
        assert_eq!(f.seq, 3);
        assert!(f.problem.contains("indexed"));
    }

    #[test]
    fn removed_event_is_named() {
        let (mut ev, head, cps, s) = build(10);
        ev.remove(3);
        let f = verify(&ev, &cps, head, &s.verifier()).unwrap_err();
        assert_eq!(f.seq, 4);
        assert!(f.problem.contains("missing"));
    }

    #[test]
    fn reordered_events_are_named() {
        let (mut ev, head, cps, s) = build(10);
        // Swap the contents of #3 and #4 but keep their positions.
        let (a, b) = (ev[2].clone(), ev[3].clone());
        ev[2] = ChainedEvent { seq: 3, ..b };
        ev[3] = ChainedEvent { seq: 4, ..a };
        let f = verify(&ev, &cps, head, &s.verifier()).unwrap_err();
        assert_eq!(f.seq, 3);
    }

    #[test]
    fn cut_off_tail_is_detected_by_head_and_checkpoint() {
        let (mut ev, head, cps, s) = build(10);
        ev.truncate(7);
        let f = verify(&ev, &cps, head, &s.verifier()).unwrap_err();
        assert_eq!(f.seq, 8);
        let mut fake_head = ChainHead::default();
        for e in &ev {
            fake_head = ChainHead {
                seq: e.seq,
                hash: e.hash,
            };
        }
        // Even with a rewritten head, the checkpoint at #8 betrays the cut.
        let f = verify(&ev, &cps, fake_head, &s.verifier()).unwrap_err();
        assert!(f.problem.contains("removed"));
    }

    #[test]
    fn forged_checkpoint_is_refused() {
        let (ev, head, mut cps, s) = build(10);
        let other = AuditSigner::from_seed("ak-t".into(), [2u8; 32]);
        if let Some(cp) = cps.get_mut(&4) {
            cp.signature = other.sign(&checkpoint_message(4, &cp.hash));
        }
        let f = verify(&ev, &cps, head, &s.verifier()).unwrap_err();
        assert_eq!(f.seq, 4);
    }
}
