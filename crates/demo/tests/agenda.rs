//! The demo agendas: Schedules of the practice's GPs and practice nurses, open Slots on
//! working days in the coming three weeks, stable ids, valid FHIR; and the demo patient's
//! upcoming video consult.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;

use time::macros::date;
use zorgkluis_demo::{agenda, directory, patient_record, AGENDA_DAYS};

#[test]
fn hp2_gp13_the_practice_agendas_have_open_slots_on_working_days_for_three_weeks() {
    let today = date!(2026 - 11 - 23); // a Monday
    let d = directory(7);
    let a = agenda(7, &d, today);
    let schedules: Vec<_> = a
        .iter()
        .filter(|r| r["resourceType"] == "Schedule")
        .collect();
    let with_agenda = d
        .staff
        .iter()
        .filter(|s| matches!(s.role, "gp" | "practice_nurse"))
        .filter(|s| Some(s.organisation_id.as_str()) == d.organisation_id("gp_practice"))
        .count();
    assert!(with_agenda >= 3);
    assert_eq!(schedules.len(), with_agenda);
    let schedule_ids: HashSet<String> = schedules
        .iter()
        .map(|s| format!("Schedule/{}", s["id"].as_str().unwrap()))
        .collect();
    let practitioners: HashSet<String> = d
        .practitioners
        .iter()
        .map(|p| format!("Practitioner/{}", p["id"].as_str().unwrap()))
        .collect();
    for s in &schedules {
        assert!(zorgkluis_fhir::validate(s).is_ok(), "{s}");
        assert!(practitioners.contains(s["actor"][0]["reference"].as_str().unwrap()));
    }
    let mut ids = HashSet::new();
    let mut video = 0;
    let slots: Vec<_> = a.iter().filter(|r| r["resourceType"] == "Slot").collect();
    for s in &slots {
        assert!(zorgkluis_fhir::validate(s).is_ok(), "{s}");
        assert!(ids.insert(s["id"].as_str().unwrap().to_owned()));
        assert!(schedule_ids.contains(s["schedule"]["reference"].as_str().unwrap()));
        assert_eq!(s["status"], "free");
        let start = s["start"].as_str().unwrap();
        assert!(start > "2026-11-24" && start < "2026-12-15", "{start}");
        assert!(s["end"].as_str().unwrap() > start);
        video += usize::from(s["extension"][0]["url"] == "urn:zorgkluis:video-consult");
    }
    // 15 working days in the 21 days after a Monday.
    assert_eq!(AGENDA_DAYS, 21);
    assert!(slots.len() >= 15 * 20, "{} slots", slots.len());
    assert!(video > 0);
    assert!(!slots.iter().any(|s| {
        let day = time::Date::parse(
            &s["start"].as_str().unwrap()[..10],
            time::macros::format_description!("[year]-[month]-[day]"),
        )
        .unwrap();
        matches!(
            day.weekday(),
            time::Weekday::Saturday | time::Weekday::Sunday
        )
    }));

    // Generating a day later gives the same ids for the same slots (and one day more).
    let later = agenda(7, &d, date!(2026 - 11 - 24));
    let later_ids: HashSet<&str> = later.iter().map(|r| r["id"].as_str().unwrap()).collect();
    let shared = ids
        .iter()
        .filter(|i| later_ids.contains(i.as_str()))
        .count();
    let first_day = slots
        .iter()
        .filter(|s| s["start"].as_str().unwrap().starts_with("2026-11-24"))
        .count();
    assert_eq!(
        shared,
        slots.len() - first_day,
        "{shared} of {}",
        slots.len()
    );
    assert_eq!(agenda(7, &d, today), a, "deterministic");
}

#[test]
fn hp2_the_first_demo_patient_has_an_upcoming_video_consult_with_their_gp() {
    let today = date!(2026 - 11 - 27); // a Friday: the consult is on Monday
    let d = directory(7);
    let rec = patient_record(7, 0, &d, today);
    let video: Vec<_> = rec
        .resources
        .iter()
        .filter(|r| {
            r["resourceType"] == "Appointment" && r["appointmentType"]["coding"][0]["code"] == "VR"
        })
        .collect();
    assert_eq!(video.len(), 1);
    let v = video[0];
    assert_eq!(v["status"], "booked");
    assert!(v["start"].as_str().unwrap().starts_with("2026-11-30T11:00"));
    assert_eq!(v["extension"][0]["url"], "urn:zorgkluis:video-consult");
    assert_eq!(
        v["participant"][1]["actor"]["reference"],
        rec.resources[0]["generalPractitioner"][0]["reference"]
    );
    // The rest of the record is what it was: another patient has none.
    let other = patient_record(7, 5, &d, today);
    assert!(!other
        .resources
        .iter()
        .any(|r| r["appointmentType"]["coding"][0]["code"] == "VR"));
}
