//! Names, places and clinical codes the generator draws from. Codes are real SNOMED CT,
//! LOINC, ATC and CVX codes; `display` is the code system's (English) display, `text`
//! what a Dutch reader sees.
//!
//! Lab tests use the LOINC codes that Dutch FHIR data and our own search tests commonly
//! carry (4548-4 HbA1c, 2093-3 cholesterol, …) with the SI units Dutch labs report. Strictly,
//! LOINC has separate codes for the molar variants (59261-8, 14647-2, 15074-8, 59260-0,
//! 14682-9); switch to those if a consumer checks code/unit consistency.

/// An organisation of the demo directory.
pub(crate) struct OrganisationSpec {
    pub kind: &'static str,
    pub name: &'static str,
    pub street: &'static str,
    pub postal_code: &'static str,
    pub city: &'static str,
    /// First two digits of the AGB code (the Vektis kind of care provider), if it has one.
    pub agb_prefix: Option<&'static str>,
    pub ura: bool,
    pub email: &'static str,
}

pub(crate) const ORGANISATIONS: &[OrganisationSpec] = &[
    OrganisationSpec {
        kind: "gp_practice",
        name: "Huisartsenpraktijk De Linde",
        street: "Lindengracht 12",
        postal_code: "3841 BK",
        city: "Harderwijk",
        agb_prefix: Some("01"),
        ura: true,
        email: "praktijk@delinde.voorbeeld.nl",
    },
    OrganisationSpec {
        kind: "physio_practice",
        name: "Fysiotherapie Veluwezoom",
        street: "Stationslaan 48",
        postal_code: "3841 DC",
        city: "Harderwijk",
        agb_prefix: Some("04"),
        ura: false,
        email: "info@fysioveluwezoom.voorbeeld.nl",
    },
    OrganisationSpec {
        kind: "care_organisation",
        name: "Coachingshuis Samen Sterk",
        street: "Molenweg 3",
        postal_code: "3851 KL",
        city: "Ermelo",
        agb_prefix: None,
        ura: true,
        email: "team@samensterk.voorbeeld.nl",
    },
    OrganisationSpec {
        kind: "hospital_clinic",
        name: "Polikliniek Interne Geneeskunde, Ziekenhuis Noord-Veluwe",
        street: "Havendijk 100",
        postal_code: "3846 AA",
        city: "Harderwijk",
        agb_prefix: Some("06"),
        ura: true,
        email: "polikliniek.interne@znv.voorbeeld.nl",
    },
    OrganisationSpec {
        kind: "pharmacy",
        name: "Apotheek Het Vlot",
        street: "Bruggestraat 7",
        postal_code: "3841 CM",
        city: "Harderwijk",
        agb_prefix: Some("02"),
        ura: true,
        email: "apotheek@hetvlot.voorbeeld.nl",
    },
    OrganisationSpec {
        kind: "gp_post",
        name: "Huisartsenpost Noord-Veluwe",
        street: "Havendijk 102",
        postal_code: "3846 AA",
        city: "Harderwijk",
        agb_prefix: None,
        ura: true,
        email: "hap@noordveluwe.voorbeeld.nl",
    },
];

/// A member of staff. Names are fixed so that demo logins do not change with the seed.
pub(crate) struct StaffSpec {
    pub org: &'static str,
    pub role: &'static str,
    pub login_prefix: &'static str,
    pub given: &'static str,
    pub family: &'static str,
    pub female: bool,
    /// Job title in Dutch.
    pub title: &'static str,
}

const fn staff(
    org: &'static str,
    role: &'static str,
    login_prefix: &'static str,
    given: &'static str,
    family: &'static str,
    female: bool,
    title: &'static str,
) -> StaffSpec {
    StaffSpec {
        org,
        role,
        login_prefix,
        given,
        family,
        female,
        title,
    }
}

pub(crate) const STAFF: &[StaffSpec] = &[
    staff(
        "gp_practice",
        "gp",
        "huisarts",
        "Marieke",
        "Jansen",
        true,
        "Huisarts",
    ),
    staff(
        "gp_practice",
        "gp",
        "huisarts",
        "Pieter",
        "de Vries",
        false,
        "Huisarts",
    ),
    staff(
        "gp_practice",
        "assistant",
        "assistent",
        "Fatima",
        "El Amrani",
        true,
        "Doktersassistente",
    ),
    staff(
        "gp_practice",
        "practice_nurse",
        "poh",
        "Sanne",
        "Bakker",
        true,
        "Praktijkondersteuner (POH)",
    ),
    staff(
        "gp_practice",
        "privacy_officer",
        "fg",
        "Joost",
        "van Dijk",
        false,
        "Functionaris gegevensbescherming",
    ),
    staff(
        "gp_practice",
        "administrator",
        "beheer",
        "Esther",
        "Smit",
        true,
        "Applicatiebeheerder",
    ),
    staff(
        "gp_practice",
        "maintainer",
        "onderhoud",
        "Koen",
        "Mulder",
        false,
        "Technisch beheerder",
    ),
    staff(
        "physio_practice",
        "physiotherapist",
        "fysio",
        "Bas",
        "Hendriks",
        false,
        "Fysiotherapeut",
    ),
    staff(
        "physio_practice",
        "physiotherapist",
        "fysio",
        "Lieke",
        "van den Berg",
        true,
        "Fysiotherapeut",
    ),
    staff(
        "care_organisation",
        "coach",
        "coach",
        "Noor",
        "Visser",
        true,
        "Ambulant begeleider",
    ),
    staff(
        "care_organisation",
        "coach",
        "coach",
        "Youssef",
        "Benali",
        false,
        "Jeugdcoach",
    ),
    staff(
        "hospital_clinic",
        "medical_specialist",
        "specialist",
        "Hendrik",
        "ter Horst",
        false,
        "Internist",
    ),
    staff(
        "hospital_clinic",
        "nurse",
        "verpleegkundige",
        "Ilse",
        "Kuipers",
        true,
        "Verpleegkundige",
    ),
    staff(
        "pharmacy",
        "pharmacist",
        "apotheker",
        "Wouter",
        "Dekker",
        false,
        "Apotheker",
    ),
    staff(
        "gp_post",
        "locum_gp",
        "waarnemer",
        "Anouk",
        "Brouwer",
        true,
        "Waarnemend huisarts",
    ),
    // A second assistant: each patient's care team names one of the two, so the other has
    // no treatment relationship with that patient (the emergency procedure's demo).
    staff(
        "gp_practice",
        "assistant",
        "assistent",
        "Daan",
        "de Groot",
        false,
        "Doktersassistent",
    ),
];

/// Given names: `(name, traditional)`; older patients more often get traditional names.
pub(crate) const FEMALE_NAMES: &[(&str, bool)] = &[
    ("Emma", false),
    ("Julia", false),
    ("Sophie", false),
    ("Tess", false),
    ("Noor", false),
    ("Fleur", false),
    ("Lotte", false),
    ("Sanne", false),
    ("Eva", false),
    ("Lieke", false),
    ("Anouk", false),
    ("Femke", false),
    ("Fenna", false),
    ("Sietske", false),
    ("Zoë", false),
    ("Anaïs", false),
    ("Chloë", false),
    ("Noëlle", false),
    ("Inès", false),
    ("Maëlle", false),
    ("Fatima", false),
    ("Yasmina", false),
    ("Aïcha", false),
    ("Elif", false),
    ("Ayşe", false),
    ("Priya", false),
    ("Mei", false),
    ("Dewi", false),
    ("Ama", false),
    ("Saskia", false),
    ("Wilhelmina", true),
    ("Geertruida", true),
    ("Hendrika", true),
    ("Johanna", true),
    ("Cornelia", true),
    ("Maria", true),
    ("Ingrid", true),
    ("Gerda", true),
    ("Annie", true),
    ("Marijke", true),
    ("Jannie", true),
    ("Tineke", true),
];

pub(crate) const MALE_NAMES: &[(&str, bool)] = &[
    ("Daan", false),
    ("Sem", false),
    ("Lucas", false),
    ("Bram", false),
    ("Thijs", false),
    ("Ruben", false),
    ("Jesse", false),
    ("Stijn", false),
    ("Teun", false),
    ("Jelle", false),
    ("Wiebe", false),
    ("Tjeerd", false),
    ("Sébastien", false),
    ("Rémy", false),
    ("Joël", false),
    ("Daniël", false),
    ("Maël", false),
    ("Noël", false),
    ("Mohammed", false),
    ("Youssef", false),
    ("Emre", false),
    ("Kofi", false),
    ("Wei", false),
    ("Arjun", false),
    ("Niels", false),
    ("Cornelis", true),
    ("Hendrik", true),
    ("Gerrit", true),
    ("Johannes", true),
    ("Jan", true),
    ("Willem", true),
    ("Pieter", true),
    ("Klaas", true),
    ("Henk", true),
    ("Kees", true),
    ("Albert", true),
    ("Dirk", true),
];

pub(crate) const FAMILY_NAMES: &[&str] = &[
    "Jansen",
    "Bakker",
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
    "Timmermans",
    "Groen",
    "Hermans",
    "El Amrani",
    "Benali",
    "Yılmaz",
    "Çelik",
    "Nguyen",
    "Wijaya",
    "Mensah",
    "Sardjoe",
    "Kramer",
    "Scholten",
    "Wouters",
];

/// Family names with a prefix (tussenvoegsel), written in full in `family`.
pub(crate) const PREFIXED_FAMILY_NAMES: &[&str] = &[
    "de Vries",
    "van der Berg",
    "van Dijk",
    "de Jong",
    "van den Heuvel",
    "de Graaf",
    "van der Meer",
    "van Leeuwen",
    "de Boer",
    "van der Linden",
    "de Wit",
    "van Beek",
    "ter Horst",
    "van de Ven",
    "de Bruijn",
    "van den Bosch",
    "de Haan",
    "van Vliet",
];

/// `(city, first four digits of a postal code range)`.
pub(crate) const CITIES: &[(&str, u32)] = &[
    ("Harderwijk", 3841),
    ("Ermelo", 3851),
    ("Nunspeet", 8071),
    ("Putten", 3881),
    ("Zeewolde", 3891),
    ("Elburg", 8081),
    ("Hierden", 3849),
    ("Amersfoort", 3811),
];

pub(crate) const STREETS: &[&str] = &[
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
    "Smeepoortstraat",
    "Hoogstraat",
    "Wilhelminalaan",
    "Drielandendreef",
];

/// Which organisation usually treats a condition.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Care {
    Gp,
    /// Chronic care by the practice nurse (ketenzorg).
    PracticeNurse,
    Physio,
    Hospital,
    Coach,
}

/// A medicine: `(ATC code, ATC display, Dutch product name, Dutch dosage instruction)`.
pub(crate) type Medicine = (&'static str, &'static str, &'static str, &'static str);

pub(crate) struct ConditionSpec {
    pub snomed: &'static str,
    pub display: &'static str,
    pub text: &'static str,
    pub min_age: u32,
    pub max_age: u32,
    pub chronic: bool,
    /// Relative frequency among patients old enough to have it.
    pub weight: u32,
    pub care: Care,
    pub medicines: &'static [Medicine],
    /// Indexes into [`LABS`] followed over time for this condition.
    pub labs: &'static [usize],
}

#[allow(clippy::too_many_arguments)]
const fn condition(
    snomed: &'static str,
    display: &'static str,
    text: &'static str,
    (min_age, max_age): (u32, u32),
    chronic: bool,
    weight: u32,
    care: Care,
    medicines: &'static [Medicine],
    labs: &'static [usize],
) -> ConditionSpec {
    ConditionSpec {
        snomed,
        display,
        text,
        min_age,
        max_age,
        chronic,
        weight,
        care,
        medicines,
        labs,
    }
}

const METFORMIN: Medicine = (
    "A10BA02",
    "metformin",
    "Metformine 500 mg tablet",
    "2 maal per dag 1 tablet bij de maaltijd",
);
const INSULIN: Medicine = (
    "A10AB05",
    "insulin aspart",
    "Insuline aspart 100 E/ml pen",
    "volgens schema rond de maaltijden spuiten",
);
const LISINOPRIL: Medicine = (
    "C09AA03",
    "lisinopril",
    "Lisinopril 10 mg tablet",
    "1 maal per dag 1 tablet",
);
const AMLODIPINE: Medicine = (
    "C08CA01",
    "amlodipine",
    "Amlodipine 5 mg tablet",
    "1 maal per dag 1 tablet",
);
const SALBUTAMOL: Medicine = (
    "R03AC02",
    "salbutamol",
    "Salbutamol inhalator 100 µg/dosis",
    "zo nodig 1 à 2 inhalaties, maximaal 8 per dag",
);
const BUDESONIDE: Medicine = (
    "R03BA02",
    "budesonide",
    "Budesonide inhalator 200 µg/dosis",
    "2 maal per dag 1 inhalatie, daarna mond spoelen",
);
const SERTRALINE: Medicine = (
    "N06AB06",
    "sertraline",
    "Sertraline 50 mg tablet",
    "1 maal per dag 1 tablet",
);
const TIOTROPIUM: Medicine = (
    "R03BB04",
    "tiotropium bromide",
    "Tiotropium inhalatiepoeder 18 µg",
    "1 maal per dag 1 inhalatie",
);
const METHOTREXATE: Medicine = (
    "L04AX03",
    "methotrexate",
    "Methotrexaat 2,5 mg tablet",
    "1 maal per week 4 tabletten op vaste dag",
);
const FOLIC_ACID: Medicine = (
    "B03BB01",
    "folic acid",
    "Foliumzuur 5 mg tablet",
    "1 maal per week 1 tablet, de dag na methotrexaat",
);
const PARACETAMOL: Medicine = (
    "N02BE01",
    "paracetamol",
    "Paracetamol 500 mg tablet",
    "zo nodig maximaal 6 maal per dag 1 tablet",
);
const IBUPROFEN: Medicine = (
    "M01AE01",
    "ibuprofen",
    "Ibuprofen 400 mg tablet",
    "zo nodig maximaal 3 maal per dag 1 tablet bij het eten",
);
const RIVAROXABAN: Medicine = (
    "B01AF01",
    "rivaroxaban",
    "Rivaroxaban 20 mg tablet",
    "1 maal per dag 1 tablet bij de avondmaaltijd",
);
const METOPROLOL: Medicine = (
    "C07AB02",
    "metoprolol",
    "Metoprolol retard 50 mg tablet",
    "1 maal per dag 1 tablet",
);
const ASPIRIN: Medicine = (
    "B01AC06",
    "acetylsalicylic acid",
    "Acetylsalicylzuur 80 mg tablet",
    "1 maal per dag 1 tablet",
);
const ATORVASTATIN: Medicine = (
    "C10AA05",
    "atorvastatin",
    "Atorvastatine 20 mg tablet",
    "1 maal per dag 1 tablet",
);
const FUROSEMIDE: Medicine = (
    "C03CA01",
    "furosemide",
    "Furosemide 40 mg tablet",
    "1 maal per dag 1 tablet 's ochtends",
);
const LEVOTHYROXINE: Medicine = (
    "H03AA01",
    "levothyroxine sodium",
    "Levothyroxine 50 µg tablet",
    "1 maal per dag 1 tablet voor het ontbijt",
);
const OMEPRAZOLE: Medicine = (
    "A02BC01",
    "omeprazole",
    "Omeprazol 20 mg capsule",
    "1 maal per dag 1 capsule voor het ontbijt",
);
const ALENDRONIC: Medicine = (
    "M05BA04",
    "alendronic acid",
    "Alendroninezuur 70 mg tablet",
    "1 maal per week 1 tablet nuchter met een vol glas water",
);
const SUMATRIPTAN: Medicine = (
    "N02CC01",
    "sumatriptan",
    "Sumatriptan 50 mg tablet",
    "bij migraine 1 tablet, zo nodig na 2 uur herhalen",
);
const HYDROCORTISONE: Medicine = (
    "D07AB02",
    "hydrocortisone butyrate",
    "Hydrocortisonbutyraat 0,1% crème",
    "2 maal per dag dun aanbrengen",
);
const CETIRIZINE: Medicine = (
    "R06AE07",
    "cetirizine",
    "Cetirizine 10 mg tablet",
    "1 maal per dag 1 tablet",
);
const METHYLPHENIDATE: Medicine = (
    "N06BA04",
    "methylphenidate",
    "Methylfenidaat 10 mg tablet",
    "2 maal per dag 1 tablet, 's ochtends en 's middags",
);
const CALCIPOTRIOL: Medicine = (
    "D05AX02",
    "calcipotriol",
    "Calcipotriol 50 µg/g zalf",
    "1 maal per dag dun aanbrengen",
);
const GALANTAMINE: Medicine = (
    "N06DA04",
    "galantamine",
    "Galantamine 8 mg capsule met gereguleerde afgifte",
    "1 maal per dag 1 capsule bij het ontbijt",
);
const AMOXICILLIN: Medicine = (
    "J01CA04",
    "amoxicillin",
    "Amoxicilline 500 mg capsule",
    "3 maal per dag 1 capsule, 7 dagen",
);
const NITROFURANTOIN: Medicine = (
    "J01XE01",
    "nitrofurantoin",
    "Nitrofurantoïne 100 mg capsule",
    "2 maal per dag 1 capsule, 5 dagen",
);
const ORS: Medicine = (
    "A07CA",
    "oral rehydration salt formulations",
    "ORS poeder",
    "na elke waterdunne ontlasting 1 zakje in 200 ml water",
);

// Indexes into LABS.
const HBA1C: usize = 0;
const CHOLESTEROL: usize = 1;
const GLUCOSE: usize = 2;
const HAEMOGLOBIN: usize = 3;
const CREATININE: usize = 4;
const EGFR: usize = 5;
const POTASSIUM: usize = 6;
const TSH: usize = 7;
const ALT: usize = 8;
const CRP: usize = 9;

/// Lab tests every adult with lab work may get, besides those of their conditions.
pub(crate) const ROUTINE_LABS: &[usize] =
    &[HAEMOGLOBIN, CREATININE, EGFR, CHOLESTEROL, GLUCOSE, ALT];

pub(crate) const CONDITIONS: &[ConditionSpec] = &[
    // Chronic.
    condition(
        "44054006",
        "Diabetes mellitus type 2",
        "Diabetes mellitus type 2",
        (30, 95),
        true,
        14,
        Care::PracticeNurse,
        &[METFORMIN],
        &[HBA1C, GLUCOSE, CREATININE, EGFR, CHOLESTEROL],
    ),
    condition(
        "46635009",
        "Diabetes mellitus type 1",
        "Diabetes mellitus type 1",
        (5, 95),
        true,
        2,
        Care::Hospital,
        &[INSULIN],
        &[HBA1C, GLUCOSE, EGFR],
    ),
    condition(
        "73211009",
        "Diabetes mellitus",
        "Diabetes mellitus (type onbekend)",
        (40, 95),
        true,
        2,
        Care::PracticeNurse,
        &[METFORMIN],
        &[HBA1C, GLUCOSE],
    ),
    condition(
        "38341003",
        "Hypertensive disorder, systemic arterial",
        "Hypertensie",
        (30, 95),
        true,
        22,
        Care::PracticeNurse,
        &[LISINOPRIL, AMLODIPINE],
        &[CREATININE, EGFR, POTASSIUM, CHOLESTEROL],
    ),
    condition(
        "13644009",
        "Hypercholesterolemia",
        "Hypercholesterolemie",
        (35, 95),
        true,
        12,
        Care::Gp,
        &[ATORVASTATIN],
        &[CHOLESTEROL, ALT],
    ),
    condition(
        "195967001",
        "Asthma",
        "Astma",
        (4, 95),
        true,
        8,
        Care::PracticeNurse,
        &[SALBUTAMOL, BUDESONIDE],
        &[],
    ),
    condition(
        "13645005",
        "Chronic obstructive lung disease",
        "COPD",
        (45, 95),
        true,
        6,
        Care::PracticeNurse,
        &[TIOTROPIUM, SALBUTAMOL],
        &[HAEMOGLOBIN],
    ),
    condition(
        "35489007",
        "Depressive disorder",
        "Depressie",
        (14, 95),
        true,
        8,
        Care::Gp,
        &[SERTRALINE],
        &[TSH],
    ),
    condition(
        "197480006",
        "Anxiety disorder",
        "Angststoornis",
        (12, 95),
        true,
        5,
        Care::Gp,
        &[],
        &[],
    ),
    condition(
        "69896004",
        "Rheumatoid arthritis",
        "Reumatoïde artritis",
        (25, 95),
        true,
        3,
        Care::Hospital,
        &[METHOTREXATE, FOLIC_ACID],
        &[CRP, HAEMOGLOBIN, ALT],
    ),
    condition(
        "239873007",
        "Osteoarthritis of knee",
        "Artrose van de knie",
        (45, 95),
        true,
        10,
        Care::Physio,
        &[PARACETAMOL],
        &[],
    ),
    condition(
        "22298006",
        "Myocardial infarction",
        "Hartinfarct (doorgemaakt)",
        (45, 95),
        true,
        4,
        Care::Hospital,
        &[ASPIRIN, METOPROLOL, ATORVASTATIN],
        &[CHOLESTEROL, CREATININE, EGFR],
    ),
    condition(
        "49436004",
        "Atrial fibrillation",
        "Atriumfibrilleren",
        (50, 95),
        true,
        6,
        Care::Hospital,
        &[RIVAROXABAN, METOPROLOL],
        &[CREATININE, EGFR, HAEMOGLOBIN],
    ),
    condition(
        "84114007",
        "Heart failure",
        "Hartfalen",
        (60, 95),
        true,
        4,
        Care::Hospital,
        &[FUROSEMIDE],
        &[CREATININE, EGFR, POTASSIUM],
    ),
    condition(
        "709044004",
        "Chronic kidney disease",
        "Chronische nierschade",
        (55, 95),
        true,
        4,
        Care::Hospital,
        &[],
        &[CREATININE, EGFR, POTASSIUM, HAEMOGLOBIN],
    ),
    condition(
        "40930008",
        "Hypothyroidism",
        "Hypothyreoïdie",
        (25, 95),
        true,
        5,
        Care::Gp,
        &[LEVOTHYROXINE],
        &[TSH],
    ),
    condition(
        "235595009",
        "Gastroesophageal reflux disease",
        "Refluxziekte",
        (25, 95),
        true,
        7,
        Care::Gp,
        &[OMEPRAZOLE],
        &[],
    ),
    condition(
        "64859006",
        "Osteoporosis",
        "Osteoporose",
        (55, 95),
        true,
        5,
        Care::Gp,
        &[ALENDRONIC],
        &[],
    ),
    condition(
        "26929004",
        "Alzheimer's disease",
        "Ziekte van Alzheimer",
        (70, 95),
        true,
        3,
        Care::Coach,
        &[GALANTAMINE],
        &[HAEMOGLOBIN, TSH],
    ),
    condition(
        "37796009",
        "Migraine",
        "Migraine",
        (12, 70),
        true,
        6,
        Care::Gp,
        &[SUMATRIPTAN],
        &[],
    ),
    condition(
        "414916001",
        "Obesity",
        "Obesitas",
        (8, 95),
        true,
        6,
        Care::Coach,
        &[],
        &[GLUCOSE, CHOLESTEROL],
    ),
    condition(
        "24700007",
        "Multiple sclerosis",
        "Multiple sclerose",
        (20, 70),
        true,
        1,
        Care::Hospital,
        &[],
        &[],
    ),
    condition(
        "9014002",
        "Psoriasis",
        "Psoriasis",
        (10, 95),
        true,
        3,
        Care::Gp,
        &[CALCIPOTRIOL],
        &[],
    ),
    condition(
        "43116000",
        "Eczema",
        "Eczeem",
        (0, 95),
        true,
        6,
        Care::Gp,
        &[HYDROCORTISONE],
        &[],
    ),
    condition(
        "61582004",
        "Allergic rhinitis",
        "Hooikoorts",
        (4, 95),
        true,
        7,
        Care::Gp,
        &[CETIRIZINE],
        &[],
    ),
    condition(
        "406506008",
        "Attention deficit hyperactivity disorder",
        "ADHD",
        (6, 60),
        true,
        4,
        Care::Coach,
        &[METHYLPHENIDATE],
        &[],
    ),
    condition(
        "279039007",
        "Low back pain",
        "Lage rugpijn",
        (16, 95),
        true,
        8,
        Care::Physio,
        &[PARACETAMOL],
        &[],
    ),
    // Acute, resolved.
    condition(
        "3110003",
        "Acute otitis media",
        "Acute middenoorontsteking",
        (0, 12),
        false,
        12,
        Care::Gp,
        &[AMOXICILLIN],
        &[],
    ),
    condition(
        "10509002",
        "Acute bronchitis",
        "Acute bronchitis",
        (0, 95),
        false,
        8,
        Care::Gp,
        &[],
        &[],
    ),
    condition(
        "25374005",
        "Gastroenteritis",
        "Buikgriep (gastro-enteritis)",
        (0, 95),
        false,
        8,
        Care::Gp,
        &[ORS],
        &[],
    ),
    condition(
        "68566005",
        "Urinary tract infectious disease",
        "Blaasontsteking",
        (2, 95),
        false,
        9,
        Care::Gp,
        &[NITROFURANTOIN],
        &[],
    ),
    condition(
        "44465007",
        "Sprain of ankle",
        "Verstuikte enkel",
        (6, 80),
        false,
        7,
        Care::Physio,
        &[IBUPROFEN],
        &[],
    ),
    condition(
        "195662009",
        "Acute viral pharyngitis",
        "Keelontsteking (viraal)",
        (2, 95),
        false,
        7,
        Care::Gp,
        &[],
        &[],
    ),
    condition(
        "54150009",
        "Upper respiratory infection",
        "Verkoudheid",
        (0, 95),
        false,
        10,
        Care::Gp,
        &[],
        &[],
    ),
    condition(
        "271807003",
        "Eruption of skin",
        "Huiduitslag",
        (0, 95),
        false,
        5,
        Care::Gp,
        &[],
        &[],
    ),
    condition(
        "25064002",
        "Headache",
        "Hoofdpijn",
        (6, 95),
        false,
        6,
        Care::Gp,
        &[PARACETAMOL],
        &[],
    ),
    condition(
        "36971009",
        "Sinusitis",
        "Bijholteontsteking",
        (10, 95),
        false,
        5,
        Care::Gp,
        &[],
        &[],
    ),
];

/// SNOMED codes of conditions that justify a care team of the physiotherapy practice,
/// hospital clinic or coaching organisation; added when a patient has such a team but no
/// such condition. `(older, younger)` patients.
pub(crate) const PHYSIO_REASONS: (&str, &str) = ("279039007", "44465007");
pub(crate) const HOSPITAL_REASONS: (&str, &str) = ("49436004", "69896004");
pub(crate) const COACH_REASONS: (&str, &str) = ("35489007", "414916001");

pub(crate) struct LabSpec {
    pub loinc: &'static str,
    pub display: &'static str,
    pub text: &'static str,
    pub unit: &'static str,
    pub low: f64,
    pub high: f64,
    pub decimals: u32,
    /// Where values of a healthy person lie.
    pub healthy: (f64, f64),
    /// Where values of a patient with a condition that affects this test lie.
    pub affected: (f64, f64),
}

pub(crate) const LABS: &[LabSpec] = &[
    LabSpec { loinc: "4548-4", display: "Hemoglobin A1c/Hemoglobin.total in Blood", text: "HbA1c", unit: "mmol/mol", low: 20.0, high: 42.0, decimals: 0, healthy: (30.0, 40.0), affected: (46.0, 72.0) },
    LabSpec { loinc: "2093-3", display: "Cholesterol [Mass/volume] in Serum or Plasma", text: "Cholesterol totaal", unit: "mmol/L", low: 3.0, high: 5.0, decimals: 1, healthy: (3.8, 5.0), affected: (5.2, 7.4) },
    LabSpec { loinc: "2339-0", display: "Glucose [Mass/volume] in Blood", text: "Glucose nuchter", unit: "mmol/L", low: 4.0, high: 6.1, decimals: 1, healthy: (4.4, 5.8), affected: (6.5, 10.5) },
    LabSpec { loinc: "718-7", display: "Hemoglobin [Mass/volume] in Blood", text: "Hemoglobine", unit: "mmol/L", low: 7.5, high: 10.5, decimals: 1, healthy: (8.0, 9.8), affected: (6.4, 7.7) },
    LabSpec { loinc: "2160-0", display: "Creatinine [Mass/volume] in Serum or Plasma", text: "Kreatinine", unit: "umol/L", low: 50.0, high: 110.0, decimals: 0, healthy: (60.0, 98.0), affected: (105.0, 190.0) },
    LabSpec { loinc: "33914-3", display: "Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] in Serum or Plasma by Creatinine-based formula (MDRD)", text: "eGFR (MDRD)", unit: "mL/min/{1.73_m2}", low: 60.0, high: 120.0, decimals: 0, healthy: (70.0, 105.0), affected: (28.0, 62.0) },
    LabSpec { loinc: "2823-3", display: "Potassium [Moles/volume] in Serum or Plasma", text: "Kalium", unit: "mmol/L", low: 3.5, high: 5.0, decimals: 1, healthy: (3.8, 4.7), affected: (4.6, 5.6) },
    LabSpec { loinc: "3016-3", display: "Thyrotropin [Units/volume] in Serum or Plasma", text: "TSH", unit: "mU/L", low: 0.4, high: 4.0, decimals: 2, healthy: (0.8, 3.0), affected: (3.2, 8.5) },
    LabSpec { loinc: "1742-6", display: "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma", text: "ALAT", unit: "U/L", low: 0.0, high: 45.0, decimals: 0, healthy: (10.0, 35.0), affected: (38.0, 90.0) },
    LabSpec { loinc: "1988-5", display: "C reactive protein [Mass/volume] in Serum or Plasma", text: "CRP", unit: "mg/L", low: 0.0, high: 10.0, decimals: 0, healthy: (1.0, 6.0), affected: (8.0, 45.0) },
];

/// `(SNOMED CT, display, Dutch text, category, criticality, reaction SNOMED, reaction
/// display)`.
pub(crate) const ALLERGIES: &[(&str, &str, &str, &str, &str, &str, &str)] = &[
    (
        "91936005",
        "Allergy to penicillin",
        "Penicilline-allergie",
        "medication",
        "high",
        "247472004",
        "Wheal",
    ),
    (
        "300913006",
        "Shellfish allergy",
        "Allergie voor schaaldieren",
        "food",
        "high",
        "267036007",
        "Dyspnea",
    ),
    (
        "418689008",
        "Allergy to grass pollen",
        "Graspollenallergie (hooikoorts)",
        "environment",
        "low",
        "76067001",
        "Sneezing",
    ),
    (
        "91935009",
        "Allergy to peanut",
        "Pinda-allergie",
        "food",
        "high",
        "267036007",
        "Dyspnea",
    ),
    (
        "232350006",
        "House dust mite allergy",
        "Huisstofmijtallergie",
        "environment",
        "low",
        "76067001",
        "Sneezing",
    ),
];

/// Rijksvaccinatieprogramma and adult vaccinations: `(CVX, display, Dutch text, age in
/// months at which it is given)`.
pub(crate) const CHILDHOOD_VACCINATIONS: &[(&str, &str, &str, u32)] = &[
    ("146", "DTaP,IPV,Hib,HepB", "DKTP-Hib-HepB (zuigeling)", 3),
    ("146", "DTaP,IPV,Hib,HepB", "DKTP-Hib-HepB (zuigeling)", 5),
    ("146", "DTaP,IPV,Hib,HepB", "DKTP-Hib-HepB (zuigeling)", 11),
    ("03", "MMR", "BMR", 14),
    (
        "108",
        "meningococcal ACWY vaccine, unspecified formulation",
        "MenACWY",
        14,
    ),
    ("130", "DTaP-IPV", "DKTP (kleuter)", 48),
    ("03", "MMR", "BMR", 108),
    ("165", "HPV9", "HPV", 120),
    (
        "108",
        "meningococcal ACWY vaccine, unspecified formulation",
        "MenACWY",
        168,
    ),
];
pub(crate) const FLU: (&str, &str, &str) = ("141", "Influenza, seasonal, injectable", "Griepprik");
pub(crate) const COVID: (&str, &str, &str) = (
    "208",
    "COVID-19, mRNA, LNP-S, PF, 30 mcg/0.3 mL dose",
    "COVID-19-vaccinatie",
);
pub(crate) const PNEUMOCOCCAL: (&str, &str, &str) = (
    "33",
    "pneumococcal polysaccharide vaccine, 23 valent",
    "Pneumokokkenvaccinatie",
);

/// `(SNOMED CT, display, Dutch text, minimum age)`.
pub(crate) const PROCEDURES: &[(&str, &str, &str, u32)] = &[
    ("80146002", "Appendectomy", "Blindedarmoperatie", 6),
    ("38102005", "Cholecystectomy", "Galblaasverwijdering", 30),
    (
        "609588000",
        "Total knee replacement",
        "Totale knieprothese",
        55,
    ),
    ("73761001", "Colonoscopy", "Coloscopie", 45),
];

/// Notes patients write in their health log.
pub(crate) const PATIENT_NOTES: &[&str] = &[
    "Vandaag wat duizelig na het opstaan, na het ontbijt ging het beter.",
    "Goed geslapen en een lange wandeling gemaakt.",
    "Last van mijn knie na het fietsen.",
    "Medicijnen een dag vergeten, verder geen klachten.",
    "Druk op het werk, hoofdpijn aan het eind van de middag.",
    "Voel me fitter sinds ik elke dag wandel.",
    "Bloeddruk 's avonds hoger dan 's ochtends, vraag ik na bij de POH.",
];

/// Messages from the practice to the patient; `{naam}` is replaced by the given name.
pub(crate) const PRACTICE_MESSAGES: &[&str] = &[
    "Beste {naam}, uw laboratoriumuitslagen zijn binnen. Er zijn geen bijzonderheden; u hoeft geen actie te ondernemen.",
    "Beste {naam}, het is weer tijd voor uw jaarlijkse controle bij de praktijkondersteuner. Wilt u een afspraak maken?",
    "Beste {naam}, uw herhaalrecept staat klaar bij Apotheek Het Vlot.",
    "Beste {naam}, u kunt dit najaar de griepprik halen op de praktijk. U hoeft geen afspraak te maken.",
    "Beste {naam}, naar aanleiding van uw vraag: u kunt de dosering voorlopig zo houden. Bij meer klachten hoor ik het graag.",
];

pub(crate) const PATIENT_REPLIES: &[&str] = &[
    "Dank u wel voor het bericht.",
    "Ik bel morgen om een afspraak te maken.",
    "Fijn, dan haal ik het recept vandaag op.",
];
