//! Names, places and clinical codes the generator draws from. Codes are real SNOMED CT,
//! LOINC and ATC codes; displays in Dutch where a patient would read them.

/// `(kind, name, city)`.
pub const ORGANISATIONS: &[(&str, &str, &str)] = &[
    ("gp_practice", "Huisartsenpraktijk De Linde", "Harderwijk"),
    ("physio_practice", "Fysiotherapie Veluwezoom", "Harderwijk"),
    (
        "care_organisation",
        "Coachingshuis Samen Sterk (WMO/Jeugdwet)",
        "Ermelo",
    ),
    (
        "hospital_clinic",
        "Polikliniek Interne Geneeskunde, Ziekenhuis Noord-Veluwe",
        "Harderwijk",
    ),
    ("pharmacy", "Apotheek Het Vlot", "Harderwijk"),
    ("gp_post", "Huisartsenpost Noord-Veluwe", "Harderwijk"),
];

/// `(organisation kind, role, login prefix, how many)`.
pub const STAFF: &[(&str, &str, &str, usize)] = &[
    ("gp_practice", "gp", "huisarts", 2),
    ("gp_practice", "assistant", "assistent", 1),
    ("gp_practice", "practice_nurse", "poh", 1),
    ("gp_practice", "privacy_officer", "fg", 1),
    ("gp_practice", "administrator", "beheer", 1),
    ("gp_practice", "maintainer", "onderhoud", 1),
    ("physio_practice", "physiotherapist", "fysio", 2),
    ("care_organisation", "coach", "coach", 2),
    ("hospital_clinic", "medical_specialist", "specialist", 1),
    ("hospital_clinic", "nurse", "verpleegkundige", 1),
    ("pharmacy", "pharmacist", "apotheker", 1),
    ("gp_post", "locum_gp", "waarnemer", 1),
];

pub const FEMALE_NAMES: &[&str] = &[
    "Anna",
    "Emma",
    "Sophie",
    "Julia",
    "Lotte",
    "Fleur",
    "Sanne",
    "Eva",
    "Lieke",
    "Noor",
    "Femke",
    "Anouk",
    "Marieke",
    "Ingrid",
    "Wilhelmina",
    "Geertruida",
    "Johanna",
    "Cornelia",
    "Hendrika",
    "Anaïs",
    "Zoë",
    "Chloë",
    "Noëlle",
    "Fatima",
    "Yasmina",
    "Saskia",
    "Esther",
    "Maaike",
    "Ilse",
];

pub const MALE_NAMES: &[&str] = &[
    "Daan",
    "Sem",
    "Lucas",
    "Bram",
    "Thijs",
    "Ruben",
    "Jesse",
    "Stijn",
    "Willem",
    "Pieter",
    "Jan",
    "Hendrik",
    "Gerrit",
    "Cornelis",
    "Johannes",
    "Maarten",
    "Joost",
    "Sébastien",
    "Rémy",
    "Mohammed",
    "Youssef",
    "Arjen",
    "Bas",
    "Koen",
    "Niels",
    "Sjoerd",
    "Wouter",
    "Teun",
    "Jurriaan",
];

pub const FAMILY_NAMES: &[&str] = &[
    "Jansen",
    "Visser",
    "Smit",
    "Meijer",
    "Mulder",
    "Bos",
    "Vos",
    "Peters",
    "Hendriks",
    "Dekker",
    "Brouwer",
    "Dijkstra",
    "Kok",
    "Jacobs",
    "Vermeulen",
    "Schouten",
    "Willems",
    "Hoekstra",
    "Koster",
    "Prins",
    "Huisman",
    "Kuipers",
    "Postma",
    "Zwanenburg",
    "Oosterhuis",
    "Bakker",
    "Timmermans",
    "Groen",
    "Hermans",
    "Sarmo",
    "El Amrani",
    "Yılmaz",
    "Çelik",
    "Nguyen",
];

pub const PREFIXES: &[&str] = &["van", "de", "van der", "van den", "ter", "van de"];

/// `(city, first postal code number of a range)`.
pub const CITIES: &[(&str, u32)] = &[
    ("Harderwijk", 3840),
    ("Ermelo", 3850),
    ("Nunspeet", 8070),
    ("Putten", 3880),
    ("Zeewolde", 3890),
    ("Elburg", 8080),
    ("Amersfoort", 3810),
    ("Apeldoorn", 7311),
];

pub const STREETS: &[&str] = &[
    "Lindengracht",
    "Bruggestraat",
    "Vijhestraat",
    "Stationslaan",
    "Kerkplein",
    "Molenweg",
    "Zeebrugpad",
    "Burgemeester de Meesterstraat",
    "Havendijk",
    "Prinsenweg",
    "Beukenlaan",
    "Eikenlaan",
    "Julianalaan",
    "Oranjelaan",
    "Sportlaan",
    "Veluwemeerweg",
];

/// A condition, with the age it starts to occur and its usual medication.
pub struct Condition {
    pub snomed: &'static str,
    pub display: &'static str,
    pub min_age: u32,
    /// `(ATC code, medicine, dosage in Dutch)`.
    pub medication: Option<(&'static str, &'static str, &'static str)>,
}

pub const CONDITIONS: &[Condition] = &[
    Condition {
        snomed: "44054006",
        display: "Diabetes mellitus type 2",
        min_age: 30,
        medication: Some((
            "A10BA02",
            "Metformine 500 mg tablet",
            "2 maal per dag 1 tablet bij de maaltijd",
        )),
    },
    Condition {
        snomed: "38341003",
        display: "Hypertensie",
        min_age: 30,
        medication: Some((
            "C09AA03",
            "Lisinopril 10 mg tablet",
            "1 maal per dag 1 tablet",
        )),
    },
    Condition {
        snomed: "195967001",
        display: "Astma",
        min_age: 0,
        medication: Some((
            "R03AC02",
            "Salbutamol inhalator 100 µg/dosis",
            "zo nodig 1-2 inhalaties",
        )),
    },
    Condition {
        snomed: "35489007",
        display: "Depressie",
        min_age: 14,
        medication: Some((
            "N06AB06",
            "Sertraline 50 mg tablet",
            "1 maal per dag 1 tablet",
        )),
    },
    Condition {
        snomed: "13645005",
        display: "COPD",
        min_age: 45,
        medication: Some((
            "R03BB04",
            "Tiotropium inhalatiepoeder",
            "1 maal per dag 1 inhalatie",
        )),
    },
    Condition {
        snomed: "69896004",
        display: "Reumatoïde artritis",
        min_age: 25,
        medication: Some((
            "L04AX03",
            "Methotrexaat 2,5 mg tablet",
            "1 maal per week 4 tabletten",
        )),
    },
    Condition {
        snomed: "239873007",
        display: "Artrose van de knie",
        min_age: 45,
        medication: Some((
            "N02BE01",
            "Paracetamol 500 mg tablet",
            "zo nodig maximaal 6 maal per dag 1 tablet",
        )),
    },
    Condition {
        snomed: "49436004",
        display: "Atriumfibrilleren",
        min_age: 50,
        medication: Some((
            "B01AF01",
            "Rivaroxaban 20 mg tablet",
            "1 maal per dag 1 tablet bij de avondmaaltijd",
        )),
    },
    Condition {
        snomed: "55822004",
        display: "Hypercholesterolemie",
        min_age: 35,
        medication: Some((
            "C10AA05",
            "Atorvastatine 20 mg tablet",
            "1 maal per dag 1 tablet",
        )),
    },
    Condition {
        snomed: "40055000",
        display: "Chronische sinusitis",
        min_age: 10,
        medication: None,
    },
    Condition {
        snomed: "279039007",
        display: "Lage rugpijn",
        min_age: 16,
        medication: None,
    },
    Condition {
        snomed: "24700007",
        display: "Multiple sclerose",
        min_age: 20,
        medication: None,
    },
    Condition {
        snomed: "43116000",
        display: "Eczeem",
        min_age: 0,
        medication: Some((
            "D07AB02",
            "Hydrocortisonbutyraat crème",
            "2 maal per dag dun aanbrengen",
        )),
    },
    Condition {
        snomed: "406506008",
        display: "ADHD",
        min_age: 6,
        medication: Some((
            "N06BA04",
            "Methylfenidaat 10 mg tablet",
            "2 maal per dag 1 tablet",
        )),
    },
];

/// A lab test with its reference range.
pub struct Lab {
    pub loinc: &'static str,
    pub display: &'static str,
    pub unit: &'static str,
    pub low: f64,
    pub high: f64,
}

pub const LABS: &[Lab] = &[
    Lab {
        loinc: "4548-4",
        display: "HbA1c",
        unit: "mmol/mol",
        low: 20.0,
        high: 53.0,
    },
    Lab {
        loinc: "2093-3",
        display: "Cholesterol totaal",
        unit: "mmol/L",
        low: 3.0,
        high: 6.5,
    },
    Lab {
        loinc: "2339-0",
        display: "Glucose",
        unit: "mmol/L",
        low: 4.0,
        high: 7.8,
    },
    Lab {
        loinc: "718-7",
        display: "Hemoglobine",
        unit: "mmol/L",
        low: 7.5,
        high: 10.0,
    },
    Lab {
        loinc: "2160-0",
        display: "Kreatinine",
        unit: "umol/L",
        low: 50.0,
        high: 110.0,
    },
    Lab {
        loinc: "33914-3",
        display: "eGFR (MDRD)",
        unit: "mL/min/{1.73_m2}",
        low: 60.0,
        high: 120.0,
    },
    Lab {
        loinc: "2823-3",
        display: "Kalium",
        unit: "mmol/L",
        low: 3.5,
        high: 5.0,
    },
];

/// `(SNOMED CT, display)`.
pub const ALLERGIES: &[(&str, &str)] = &[
    ("91936005", "Allergie voor penicilline"),
    ("300913006", "Allergie voor schaaldieren"),
    ("418689008", "Allergie voor graspollen"),
    ("91935009", "Allergie voor pinda"),
    ("294505008", "Allergie voor NSAID's"),
];

pub const VACCINES: &[(&str, &str)] = &[
    ("871751006", "Influenzavaccin"),
    ("1119349007", "COVID-19 mRNA-vaccin"),
    ("871878002", "DKTP-vaccin"),
    ("871831003", "BMR-vaccin"),
];

pub const PROCEDURES: &[(&str, &str)] = &[
    ("80146002", "Appendectomie"),
    ("38102005", "Cholecystectomie"),
    ("172298008", "Excisie van huidafwijking"),
    ("609588000", "Totale knieprothese"),
];

/// Self-entered measures: `(LOINC, display, unit, low, high)`.
pub const SELF_MEASURES: &[(&str, &str, &str, i64, i64)] = &[
    ("55423-8", "Aantal stappen", "/d", 2000, 14000),
    ("93832-4", "Slaapduur", "h", 5, 10),
    ("72166-2", "Rookstatus (sigaretten per dag)", "/d", 0, 20),
    ("11331-6", "Alcoholgebruik (glazen per week)", "/wk", 0, 15),
    ("44250-9", "Stemming (0-10)", "{score}", 2, 10),
];
