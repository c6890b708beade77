//! Patient-information leaflets (HP-1): a small built-in catalogue for the common
//! conditions of the demo practice, keyed by SNOMED CT and ICPC code. The texts live in
//! the translation files (`record.leaflet-<key>-title` / `-text`, both languages); Dutch
//! readers also get a link to the matching page on Thuisarts.nl (the NHG's site for
//! patients). A condition without a leaflet is said to have none, honestly.

use serde_json::Value;

use crate::i18n::Lang;
use crate::portal::fhirtext::str_at;

/// One leaflet: the codes it covers, its text key and its Thuisarts.nl page.
struct Leaflet {
    key: &'static str,
    snomed: &'static [&'static str],
    icpc: &'static [&'static str],
    /// The page on thuisarts.nl; `None`: the site's front page.
    thuisarts: Option<&'static str>,
}

const fn l(
    key: &'static str,
    snomed: &'static [&'static str],
    icpc: &'static [&'static str],
    thuisarts: Option<&'static str>,
) -> Leaflet {
    Leaflet {
        key,
        snomed,
        icpc,
        thuisarts,
    }
}

const CATALOGUE: &[Leaflet] = &[
    l(
        "diabetes-2",
        &["44054006", "73211009"],
        &["T90"],
        Some("diabetes-type-2"),
    ),
    l(
        "diabetes-1",
        &["46635009"],
        &["T89"],
        Some("diabetes-type-1"),
    ),
    l(
        "hypertension",
        &["38341003"],
        &["K86", "K87"],
        Some("hoge-bloeddruk"),
    ),
    l("cholesterol", &["13644009"], &["T93"], None),
    l(
        "asthma",
        &["195967001"],
        &["R96"],
        Some("astma-bij-volwassenen"),
    ),
    l("copd", &["13645005"], &["R95"], Some("copd")),
    l("depression", &["35489007"], &["P76"], Some("depressie")),
    l("anxiety", &["197480006"], &["P74"], None),
    l(
        "rheumatoid-arthritis",
        &["69896004"],
        &["L88"],
        Some("reumatoide-artritis"),
    ),
    l(
        "knee-osteoarthritis",
        &["239873007"],
        &["L90"],
        Some("artrose-in-knie"),
    ),
    l(
        "myocardial-infarction",
        &["22298006"],
        &["K75"],
        Some("hartinfarct"),
    ),
    l(
        "atrial-fibrillation",
        &["49436004"],
        &["K78"],
        Some("boezemfibrilleren"),
    ),
    l("heart-failure", &["84114007"], &["K77"], Some("hartfalen")),
    l(
        "kidney-disease",
        &["709044004"],
        &["U99.01"],
        Some("chronische-nierschade"),
    ),
    l(
        "hypothyroidism",
        &["40930008"],
        &["T86"],
        Some("schildklier-werkt-te-langzaam"),
    ),
    l("reflux", &["235595009"], &["D84"], Some("maagklachten")),
    l(
        "osteoporosis",
        &["64859006"],
        &["L95"],
        Some("botontkalking"),
    ),
    l("dementia", &["26929004"], &["P70"], Some("dementie")),
    l("migraine", &["37796009"], &["N89"], Some("migraine")),
    l("overweight", &["414916001"], &["T82"], Some("overgewicht")),
    l("multiple-sclerosis", &["24700007"], &["N86"], None),
    l("psoriasis", &["9014002"], &["S91"], Some("psoriasis")),
    l("eczema", &["43116000"], &["S87", "S88"], Some("eczeem")),
    l("hay-fever", &["61582004"], &["R97"], Some("hooikoorts")),
    l("adhd", &["406506008"], &["P81"], None),
    l(
        "low-back-pain",
        &["279039007"],
        &["L03"],
        Some("lage-rugpijn"),
    ),
    l("otitis-media", &["3110003"], &["H71"], None),
    l("bronchitis", &["10509002"], &["R78"], Some("hoesten")),
    l("gastroenteritis", &["25374005"], &["D73"], Some("diarree")),
    l(
        "bladder-infection",
        &["68566005"],
        &["U71"],
        Some("blaasontsteking"),
    ),
    l("ankle-sprain", &["44465007"], &["L77"], None),
    l("sore-throat", &["195662009"], &["R74.02"], Some("keelpijn")),
    l("common-cold", &["54150009"], &["R74"], Some("verkoudheid")),
    l("skin-rash", &["271807003"], &["S06"], None),
    l("headache", &["25064002"], &["N01"], Some("hoofdpijn")),
    l("sinusitis", &["36971009"], &["R75"], None),
];

const THUISARTS: &str = "https://www.thuisarts.nl";

/// A leaflet for one of the patient's conditions, ready to show.
pub(super) struct Shown {
    /// The condition as the record names it.
    pub condition: String,
    pub current: bool,
    /// `None`: no leaflet in the catalogue for this condition.
    pub title: Option<&'static str>,
    pub text: &'static str,
    pub link: String,
    pub link_is_front_page: bool,
}

fn find(code: Option<&Value>) -> Option<&'static Leaflet> {
    let codings = code?.get("coding")?.as_array()?;
    codings.iter().find_map(|c| {
        let value = str_at(c, "/code")?;
        let system = str_at(c, "/system").unwrap_or("");
        CATALOGUE.iter().find(|l| {
            (system == "http://snomed.info/sct" && l.snomed.contains(&value))
                || (system.to_ascii_lowercase().contains("icpc")
                    && l.icpc.iter().any(|i| i.eq_ignore_ascii_case(value)))
        })
    })
}

/// The leaflet for a Condition's code, in a language; `None` when there is none.
pub(super) fn for_condition(
    lang: Lang,
    condition: &str,
    current: bool,
    code: Option<&Value>,
) -> Shown {
    match find(code) {
        Some(leaflet) => Shown {
            condition: condition.to_owned(),
            current,
            title: Some(lang.text(&format!("record.leaflet-{}-title", leaflet.key))),
            text: lang.text(&format!("record.leaflet-{}-text", leaflet.key)),
            link: leaflet
                .thuisarts
                .map_or_else(|| THUISARTS.to_owned(), |p| format!("{THUISARTS}/{p}")),
            link_is_front_page: leaflet.thuisarts.is_none(),
        },
        None => Shown {
            condition: condition.to_owned(),
            current,
            title: None,
            text: "",
            link: THUISARTS.to_owned(),
            link_is_front_page: true,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_leaflet_has_a_title_and_text_in_both_languages() {
        for leaflet in CATALOGUE {
            for lang in [Lang::Nl, Lang::En] {
                for part in ["title", "text"] {
                    let key = format!("record.leaflet-{}-{part}", leaflet.key);
                    assert_ne!(lang.text(&key), key, "missing {key} in {lang:?}");
                }
            }
        }
    }

    #[test]
    fn leaflets_are_found_by_snomed_and_icpc_code() {
        let snomed = json!({"coding": [{"system": "http://snomed.info/sct", "code": "44054006"}]});
        let shown = for_condition(Lang::Nl, "Diabetes", true, Some(&snomed));
        assert!(shown.title.is_some());
        assert_eq!(shown.link, "https://www.thuisarts.nl/diabetes-type-2");
        let icpc =
            json!({"coding": [{"system": "http://hl7.org/fhir/sid/icpc-1-nl", "code": "K86"}]});
        assert!(for_condition(Lang::En, "x", true, Some(&icpc))
            .title
            .is_some());
        let unknown = json!({"coding": [{"system": "http://snomed.info/sct", "code": "1"}]});
        assert!(for_condition(Lang::En, "x", true, Some(&unknown))
            .title
            .is_none());
    }
}
