//! Benchmark set-up: writes a manifest of the example registry plus `--flows` synthetic data
//! flows, in the format of data/registry.yaml, to time `subreg plan` and `subreg apply` on it
//! (see BENCHMARKS.md, "The registry as code").
//!
//! The synthetic part has 250 processing activities (half performed as processor) and 400
//! internal, active recipients across the EEA, the UK, the US and India; every activity sends
//! data to every recipient (100,000 flows for 100,000), with a transfer under the exporter's
//! regime wherever the data leaves the EEA.
//!
//! ```sh
//! cargo build --release --bin subreg --example manifest
//! ./target/release/examples/manifest --flows 100000 -o /tmp/manifest100k.yaml
//! ```

use clap::Parser;
use entity::{
    LegalBasis, OrganizationRole, RecipientKind, RecipientRole, RecipientStatus, RetentionStart,
    TransferMechanism,
};
use subreg::registry::inputs::{
    ActivityInput, FlowInput, RecipientInput, Safeguard, TransferInput,
};

#[derive(Parser)]
struct Args {
    /// Synthetic data flows to add to the example registry.
    #[arg(long, default_value_t = 100_000)]
    flows: usize,
    /// Recipients the flows go to (each activity sends to each).
    #[arg(long, default_value_t = 400)]
    recipients: usize,
    /// Where to write the manifest.
    #[arg(short, long)]
    output: std::path::PathBuf,
}

const COUNTRIES: [&str; 6] = ["NL", "DE", "IE", "GB", "US", "IN"];
const CATEGORIES: [&str; 4] = [
    "contact.phone_number",
    "contact.email",
    "telecom.traffic",
    "online.ip_address",
];

fn safeguard(country: &str) -> Option<Safeguard> {
    let mechanism = match country {
        "NL" | "DE" | "IE" => return None,
        "GB" => TransferMechanism::AdequacyDecision,
        _ => TransferMechanism::StandardContractualClauses,
    };
    Some(Safeguard {
        mechanism,
        scc_module: None,
        derogation: None,
        safeguards: None,
        tia_date: chrono::NaiveDate::from_ymd_opt(2026, 6, 1),
    })
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut file = subreg::manifest::parse(subreg::seed::EXAMPLE_REGISTRY)
        .map_err(|p| anyhow::anyhow!("{p:?}"))?
        .file;
    let recipients = args.recipients.max(1);
    let activities = args.flows.div_ceil(recipients).max(1);
    for r in 0..recipients {
        let country = COUNTRIES[r % COUNTRIES.len()];
        file.recipients.push(RecipientInput {
            key: format!("bench_recipient_{r}"),
            legal_name: format!("Benchmark Recipient {r} Ltd"),
            kind: RecipientKind::ServiceProvider,
            default_role: RecipientRole::Processor,
            description: None,
            country: country.to_owned(),
            processing_locations: vec![country.to_owned()],
            transfer: safeguard(country).map(|s| Safeguard {
                scc_module: (s.mechanism == TransferMechanism::StandardContractualClauses)
                    .then_some(2),
                ..s
            }),
            dpa_reference: Some(format!("DPA-BENCH-{r}")),
            certifications: vec![],
            dpf_certified: false,
            website: None,
            privacy_notice_url: None,
            status: RecipientStatus::Active,
            public: false,
            assumptions: vec![],
            sources: vec!["benchmark".into()],
        });
    }
    let mut written = 0;
    for a in 0..activities {
        let key = format!("bench_activity_{a}");
        file.processing_activities.push(ActivityInput {
            key: key.clone(),
            name: format!("Benchmark activity {a}"),
            description: None,
            organization_role: if a % 2 == 0 {
                OrganizationRole::Processor
            } else {
                OrganizationRole::Controller
            },
            controllers: vec!["Benchmark customers".into()],
            purposes: vec![format!("Benchmark purpose {a}")],
            legal_basis: Some(LegalBasis::Contract),
            data_subjects: vec!["end_users".into()],
            data_categories: CATEGORIES.iter().map(|c| (*c).to_owned()).collect(),
            products: vec!["sms".into()],
            retention_period: Some("P6M".into()),
            retention_from: Some(RetentionStart::Collection),
            retention_reason: Some("benchmark".into()),
            security_measures: vec![],
            special_category_condition: None,
            assumptions: vec![],
            sources: vec![],
        });
        for r in 0..recipients {
            if written == args.flows {
                break;
            }
            let country = COUNTRIES[r % COUNTRIES.len()];
            file.data_flows.push(FlowInput {
                activity: key.clone(),
                recipient: format!("bench_recipient_{r}"),
                via: None,
                exporter: None,
                role: None,
                purpose: None,
                data_categories: vec![
                    CATEGORIES[(a + r) % CATEGORIES.len()].to_owned(),
                    CATEGORIES[(a + r + 1) % CATEGORIES.len()].to_owned(),
                ],
                data_subjects: vec!["end_users".into()],
                countries: vec![country.to_owned()],
                transfers: safeguard(country)
                    .map(|s| {
                        vec![TransferInput {
                            country: country.to_owned(),
                            safeguard: s,
                        }]
                    })
                    .unwrap_or_default(),
                assumptions: vec![],
                sources: vec![],
            });
            written += 1;
        }
    }
    let text = subreg::manifest::file::to_yaml(
        &file,
        &[format!(
            "Benchmark manifest: the example registry plus {written} synthetic data flows."
        )],
    )?;
    std::fs::write(&args.output, text)?;
    eprintln!(
        "wrote {} recipients, {} processing activities and {} data flows to {}",
        file.recipients.len(),
        file.processing_activities.len(),
        file.data_flows.len(),
        args.output.display()
    );
    Ok(())
}
