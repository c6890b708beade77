//! The agendas of the GP practice: a Schedule for each GP and practice nurse, and open
//! Slots on working days for the three weeks after the reference date (HP-2, GP-13).
//!
//! Schedules and Slots are directory data (availability, not patient data). Every id
//! follows from the seed, the member of staff and the slot's date and time, never from
//! the reference date: generating again on a later day writes the same slots with the
//! same ids (the loader leaves them alone) and adds only the new days.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::Value;
use time::{Date, Duration, Weekday};

use crate::directory::{Directory, StaffMember};
use crate::elements::*;

/// Days after the reference date with open slots.
pub const AGENDA_DAYS: i64 = 21;

/// One block of consecutive slots on a working day.
struct Block {
    /// Start, as (hour, minute), Dutch local time.
    start: (u8, u8),
    /// Number of slots.
    count: u8,
    /// Minutes per slot.
    minutes: u8,
    /// Video consults (HP-2).
    video: bool,
}

/// The consulting hours per role (a GP: morning surgery, an early-afternoon hour and a
/// short video surgery; the practice nurse: a morning of longer checks, one by video).
fn blocks(role: &str) -> &'static [Block] {
    match role {
        "gp" => &[
            Block {
                start: (8, 0),
                count: 12,
                minutes: 10,
                video: false,
            },
            Block {
                start: (13, 30),
                count: 6,
                minutes: 10,
                video: false,
            },
            Block {
                start: (16, 0),
                count: 3,
                minutes: 10,
                video: true,
            },
        ],
        "practice_nurse" => &[
            Block {
                start: (9, 0),
                count: 6,
                minutes: 20,
                video: false,
            },
            Block {
                start: (11, 0),
                count: 2,
                minutes: 20,
                video: true,
            },
        ],
        _ => &[],
    }
}

/// A number for a text (stable across runs and platforms).
fn text_hash(text: &str) -> u64 {
    text.bytes()
        .fold(0u64, |h, b| h.wrapping_mul(131).wrapping_add(u64::from(b)))
}

/// A UUID that depends only on the seed and the given numbers.
fn stable_id(seed: u64, parts: &[u64]) -> String {
    let mut z = seed ^ 0xA6E7_DA00_5107_0000;
    for p in parts {
        z = (z ^ p).wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(29);
    }
    uuid(&mut ChaCha8Rng::seed_from_u64(z))
}

/// The id of the Schedule of a member of staff (the same for every reference date).
pub fn schedule_id(seed: u64, staff: &StaffMember) -> String {
    stable_id(seed, &[1, text_hash(&staff.practitioner_id)])
}

/// Whether a member of staff has an agenda in the demo (the practice's GPs and nurses).
fn has_agenda(staff: &StaffMember, dir: &Directory) -> bool {
    matches!(staff.role, "gp" | "practice_nurse")
        && dir.organisation_id("gp_practice") == Some(staff.organisation_id.as_str())
}

/// Schedules of the GP practice's GPs and practice nurses, then their open Slots on the
/// working days after `today` (for [`AGENDA_DAYS`] days), deterministic in `seed`.
pub fn agenda(seed: u64, dir: &Directory, today: Date) -> Vec<Value> {
    let mut out = Vec::new();
    let mut slots = Vec::new();
    for who in dir.staff.iter().filter(|s| has_agenda(s, dir)) {
        let sid = schedule_id(seed, who);
        let owner = text_hash(&sid);
        let (service, text) = if who.role == "gp" {
            ("124", "Huisartsenspreekuur")
        } else {
            ("57", "Spreekuur praktijkondersteuner")
        };
        out.push(obj([
            ("resourceType", s("Schedule")),
            ("id", s(&sid)),
            ("active", Value::Bool(true)),
            (
                "serviceType",
                arr([concept(
                    "http://terminology.hl7.org/CodeSystem/service-type",
                    service,
                    text,
                    text,
                )]),
            ),
            (
                "actor",
                arr([
                    reference_display("Practitioner", &who.practitioner_id, &who.display),
                    reference("Organization", &who.organisation_id),
                ]),
            ),
            (
                "planningHorizon",
                obj([
                    ("start", Value::String(date(today))),
                    (
                        "end",
                        Value::String(date(today + Duration::days(AGENDA_DAYS))),
                    ),
                ]),
            ),
            (
                "comment",
                Value::String(format!("Agenda van {}", who.display)),
            ),
        ]));
        for d in 1..=AGENDA_DAYS {
            let day = today + Duration::days(d);
            if matches!(day.weekday(), Weekday::Saturday | Weekday::Sunday) {
                continue;
            }
            for b in blocks(who.role) {
                for k in 0..b.count {
                    let minutes = u32::from(b.start.0) * 60
                        + u32::from(b.start.1)
                        + u32::from(k) * u32::from(b.minutes);
                    let end = minutes + u32::from(b.minutes);
                    let at = |m: u32| date_time(day, (m / 60) as u8, (m % 60) as u8);
                    let id = stable_id(
                        seed,
                        &[2, day.to_julian_day() as u64, u64::from(minutes), owner],
                    );
                    slots.push(obj([
                        ("resourceType", s("Slot")),
                        ("id", Value::String(id)),
                        (
                            "extension",
                            opt(b.video.then(|| {
                                arr([obj([
                                    ("url", s(VIDEO_CONSULT)),
                                    ("valueBoolean", Value::Bool(true)),
                                ])])
                            })),
                        ),
                        (
                            "appointmentType",
                            opt(b
                                .video
                                .then(|| concept(ACT_CODE, "VR", "virtual", "Videoconsult"))),
                        ),
                        ("schedule", reference("Schedule", &sid)),
                        ("status", s("free")),
                        ("start", Value::String(at(minutes))),
                        ("end", Value::String(at(end))),
                    ]));
                }
            }
        }
    }
    out.extend(slots);
    out
}

/// The first working day after `today`.
pub(crate) fn next_working_day(today: Date) -> Date {
    let mut day = today + Duration::days(1);
    while matches!(day.weekday(), Weekday::Saturday | Weekday::Sunday) {
        day += Duration::days(1);
    }
    day
}
