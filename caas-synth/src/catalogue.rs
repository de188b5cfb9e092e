//! The clinical codes the generator draws from: the codelists of the flu example, one per
//! cluster, plus background codes that match no codelist.

use std::collections::HashSet;
use std::path::Path;

use caas_core::CodeSystem;
use caas_core::Result;

/// A group of codes the generator gives people with a condition, named after the codelist
/// file it is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cluster {
    /// Asthma diagnosis (SNOMED CT).
    Asthma,
    /// Asthma medication (dm+d).
    AsthmaMedication,
    /// Asthma admission diagnoses (ICD-10).
    AsthmaAdmission,
    /// Chronic heart disease.
    Heart,
    /// Chronic kidney disease diagnosis.
    Kidney,
    /// CKD stage codes, stages 1–5.
    KidneyStage1To5,
    /// CKD stage codes, stages 3–5.
    KidneyStage3To5,
    /// Chronic liver disease.
    Liver,
    /// Chronic neurological disease.
    Neurological,
    /// Chronic respiratory disease.
    Respiratory,
    /// Diabetes.
    Diabetes,
    /// Diabetes resolved.
    DiabetesResolved,
    /// Addison's disease.
    Addisons,
    /// Immunosuppression diagnosis.
    Immunosuppression,
    /// Immunosuppressant medication (dm+d).
    ImmunosuppressantMedication,
    /// Chemotherapy or radiotherapy (SNOMED CT).
    Chemotherapy,
    /// Chemotherapy procedures (OPCS-4).
    ChemotherapyProcedure,
    /// Asplenia.
    Asplenia,
    /// Severe obesity.
    SevereObesity,
    /// BMI observations.
    Bmi,
    /// Pregnancy.
    Pregnancy,
    /// Pregnancy or delivery.
    PregnancyOrDelivery,
    /// Carer.
    Carer,
    /// No longer a carer.
    NotCarer,
    /// Residential status.
    Residence,
    /// Long-stay residential care.
    LongStayCare,
    /// Health or social care worker.
    CareWorker,
    /// Household contact of an immunosuppressed person.
    HouseholdContact,
    /// Learning disability.
    LearningDisability,
    /// Flu vaccination given.
    FluVaccination,
    /// Flu vaccination declined.
    FluDeclined,
}

impl Cluster {
    /// Every cluster.
    pub const ALL: [Cluster; 31] = [
        Cluster::Asthma,
        Cluster::AsthmaMedication,
        Cluster::AsthmaAdmission,
        Cluster::Heart,
        Cluster::Kidney,
        Cluster::KidneyStage1To5,
        Cluster::KidneyStage3To5,
        Cluster::Liver,
        Cluster::Neurological,
        Cluster::Respiratory,
        Cluster::Diabetes,
        Cluster::DiabetesResolved,
        Cluster::Addisons,
        Cluster::Immunosuppression,
        Cluster::ImmunosuppressantMedication,
        Cluster::Chemotherapy,
        Cluster::ChemotherapyProcedure,
        Cluster::Asplenia,
        Cluster::SevereObesity,
        Cluster::Bmi,
        Cluster::Pregnancy,
        Cluster::PregnancyOrDelivery,
        Cluster::Carer,
        Cluster::NotCarer,
        Cluster::Residence,
        Cluster::LongStayCare,
        Cluster::CareWorker,
        Cluster::HouseholdContact,
        Cluster::LearningDisability,
        Cluster::FluVaccination,
        Cluster::FluDeclined,
    ];

    /// The codelist file (without `.csv`) the cluster's codes are read from, and its system.
    pub fn file(self) -> (&'static str, CodeSystem) {
        use CodeSystem::*;
        match self {
            Cluster::Asthma => ("ast", SnomedCt),
            Cluster::AsthmaMedication => ("astrx", Dmd),
            Cluster::AsthmaAdmission => ("astadm_icd10", Icd10),
            Cluster::Heart => ("chd", SnomedCt),
            Cluster::Kidney => ("ckd", SnomedCt),
            Cluster::KidneyStage1To5 => ("ckd15", SnomedCt),
            Cluster::KidneyStage3To5 => ("ckd35", SnomedCt),
            Cluster::Liver => ("cld", SnomedCt),
            Cluster::Neurological => ("cns", SnomedCt),
            Cluster::Respiratory => ("resp", SnomedCt),
            Cluster::Diabetes => ("diab", SnomedCt),
            Cluster::DiabetesResolved => ("dmres", SnomedCt),
            Cluster::Addisons => ("addis", SnomedCt),
            Cluster::Immunosuppression => ("immdx", SnomedCt),
            Cluster::ImmunosuppressantMedication => ("immrx", Dmd),
            Cluster::Chemotherapy => ("dxt_chemo", SnomedCt),
            Cluster::ChemotherapyProcedure => ("chemo_opcs4", Opcs4),
            Cluster::Asplenia => ("spln", SnomedCt),
            Cluster::SevereObesity => ("sev_obesity", SnomedCt),
            Cluster::Bmi => ("bmi", SnomedCt),
            Cluster::Pregnancy => ("preg", SnomedCt),
            Cluster::PregnancyOrDelivery => ("pregdel", SnomedCt),
            Cluster::Carer => ("carer", SnomedCt),
            Cluster::NotCarer => ("notcarer", SnomedCt),
            Cluster::Residence => ("reside", SnomedCt),
            Cluster::LongStayCare => ("longres", SnomedCt),
            Cluster::CareWorker => ("hcworker", SnomedCt),
            Cluster::HouseholdContact => ("hhld_imdef", SnomedCt),
            Cluster::LearningDisability => ("learndis", SnomedCt),
            Cluster::FluVaccination => ("fluvax", SnomedCt),
            Cluster::FluDeclined => ("fludecl", SnomedCt),
        }
    }
}

/// The codes of every cluster. SNOMED CT and dm+d codes are integers (as the generated
/// event tables store them); ICD-10 and OPCS-4 codes are text.
#[derive(Debug, Clone)]
pub struct Catalogue {
    numeric: Vec<Vec<i64>>,
    text: Vec<Vec<String>>,
    /// Every numeric code of any cluster, so background codes can avoid them.
    taken: HashSet<i64>,
}

impl Catalogue {
    /// Reads `<file>.csv` (column `code`) for every cluster from `dir`.
    pub fn from_dir(dir: &Path) -> Result<Self> {
        let mut numeric = Vec::new();
        let mut text = Vec::new();
        let mut taken = HashSet::new();
        for cluster in Cluster::ALL {
            let (file, system) = cluster.file();
            let path = dir.join(format!("{file}.csv"));
            let spec = caas_core::model::CodelistSpec {
                system,
                codes: None,
                file: None,
                code_column: None,
                category_column: None,
                categories: None,
                description: None,
            };
            let mut codes =
                caas_core::codelist::read_codes(file, &spec, &path, &caas_core::Limits::default())?;
            codes.sort();
            codes.dedup();
            let ints: Vec<i64> = if system.matches_by_prefix() {
                Vec::new()
            } else {
                codes.iter().filter_map(|c| c.parse().ok()).collect()
            };
            taken.extend(ints.iter().copied());
            numeric.push(ints);
            text.push(codes);
        }
        Ok(Catalogue {
            numeric,
            text,
            taken,
        })
    }

    fn index(cluster: Cluster) -> usize {
        Cluster::ALL.iter().position(|c| *c == cluster).unwrap_or(0)
    }

    /// The integer codes of a SNOMED CT or dm+d cluster.
    pub fn numeric(&self, cluster: Cluster) -> &[i64] {
        &self.numeric[Self::index(cluster)]
    }

    /// The text codes of a cluster.
    pub fn text(&self, cluster: Cluster) -> &[String] {
        &self.text[Self::index(cluster)]
    }

    /// The codes of `cluster` that are not in `minus` (e.g. CKD stages 1–2 are stages 1–5
    /// minus stages 3–5).
    pub fn numeric_minus(&self, cluster: Cluster, minus: Cluster) -> Vec<i64> {
        let removed: HashSet<i64> = self.numeric(minus).iter().copied().collect();
        self.numeric(cluster)
            .iter()
            .copied()
            .filter(|c| !removed.contains(c))
            .collect()
    }

    /// Whether a code belongs to any cluster.
    pub fn is_taken(&self, code: i64) -> bool {
        self.taken.contains(&code)
    }
}
