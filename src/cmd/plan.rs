use std::path::PathBuf;

use anyhow::{Context, Result};
use planner::rules::Placement;
use planner::{Inventory, PlanInputs, PlanOptions, Rules, SourcedSpec, UserSpec};

use crate::cmd::collect::KindArg;
use crate::cmd::collect::vio::VioArgs;
use crate::cmd::connect::{KubeArgs, NsxArgs};
use executor::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// `mp` (Manager-to-Policy) or `vio-v2t` (VIO from NSX-V to NSX). Defaults to the kind in
    /// the inventory's metadata.json, else `mp`.
    #[arg(long, value_enum)]
    kind: Option<KindArg>,
    /// Inventory snapshot directory (written by `collect`, or by hand; docs/inventory-format.md).
    #[arg(long, required_unless_present = "nsx", conflicts_with = "nsx")]
    inventory: Option<PathBuf>,
    /// Collect from a live NSX Manager (and kubectl) first, into `<out>.inventory/`, then plan.
    #[command(flatten)]
    live: Option<NsxArgs>,
    #[command(flatten)]
    kube: KubeArgs,
    /// The live sources of `--kind vio-v2t` (as for `collect --kind vio-v2t`).
    #[command(flatten)]
    vio: Box<VioArgs>,
    /// Cluster name (NCP's `[coe] cluster`, the `ncp/cluster` tag value). Defaults to the
    /// snapshot's metadata.
    #[arg(long)]
    cluster: Option<String>,
    /// User spec naming the cluster's shared NSX resources. Defaults to `user-spec.yaml` in the
    /// inventory directory when present.
    #[arg(long)]
    user_spec: Option<PathBuf>,
    /// Rules file merged over the built-in rules (planner/rules/default.toml).
    #[arg(long)]
    rules: Option<PathBuf>,
    /// Where admin sections found between NCP sections go (overrides the rules file).
    #[arg(long, value_enum)]
    dfw_admin_sections: Option<PlacementArg>,
    /// Plan file to write.
    #[arg(long)]
    out: PathBuf,
    /// `#:schema` reference written at the top of the plan, for TOML editors.
    #[arg(
        long,
        default_value = "https://nsx-migrate.invalid/schema/plan.schema.json"
    )]
    schema_ref: String,
    /// Fixed creation time (RFC 3339), for reproducible output.
    #[arg(long, hide = true)]
    created_at: Option<String>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum PlacementArg {
    Above,
    Below,
}

/// The kind in a snapshot's metadata.json, if it says.
fn snapshot_kind(dir: &std::path::Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join("metadata.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v.get("kind")?.as_str().map(str::to_string)
}

pub fn run(args: Args) -> Result<ExitCode> {
    let kind = match args.kind {
        Some(k) => k,
        None => match args.inventory.as_deref().and_then(snapshot_kind).as_deref() {
            Some("vio-v2t") => KindArg::VioV2t,
            _ => KindArg::Mp,
        },
    };
    match kind {
        KindArg::VioV2t => run_vio(args),
        KindArg::Mp => run_mp(args),
    }
}

fn created_at(fixed: Option<&str>) -> String {
    fixed.map(str::to_string).unwrap_or_else(|| {
        jiff::Timestamp::now()
            .round(jiff::Unit::Second)
            .unwrap_or_else(|_| jiff::Timestamp::now())
            .to_string()
    })
}

fn run_vio(mut args: Args) -> Result<ExitCode> {
    if args.cluster.is_some() || args.user_spec.is_some() || args.dfw_admin_sections.is_some() {
        anyhow::bail!(
            "--cluster, --user-spec and --dfw-admin-sections belong to --kind mp; --kind vio-v2t does not take them"
        );
    }
    if let Some(live) = &args.live {
        let dir = PathBuf::from(format!("{}.inventory", args.out.display()));
        let code = crate::cmd::collect::vio::run(live, &args.kube, &args.vio, &dir)?;
        if code != ExitCode::Success {
            return Ok(code);
        }
        args.inventory = Some(dir);
    }
    let Some(dir) = args.inventory.clone() else {
        anyhow::bail!("give --inventory DIR or --nsx URL");
    };
    let snapshot = planner::vio::snapshot::VioSnapshot::load(&dir)?;
    let (rules, rules_source) = match &args.rules {
        Some(p) => {
            let bytes =
                std::fs::read(p).with_context(|| format!("{}: cannot read", p.display()))?;
            (
                planner::vio::rules::VioRules::load_with_overrides(p)?,
                Some((p.display().to_string(), plan_schema::sha256_hex(&bytes))),
            )
        }
        None => (planner::vio::rules::VioRules::builtin(), None),
    };
    let opts = planner::vio::VioPlanOptions {
        created_at: created_at(args.created_at.as_deref()),
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        deployment: None,
        rules_source,
        inventory_source: None,
    };
    let plan = planner::vio::build_vio_plan(&snapshot, &rules, &opts)?;
    let text = plan_schema::write::to_toml(&plan, Some(&args.schema_ref))?;
    std::fs::write(&args.out, text)
        .with_context(|| format!("{}: cannot write plan", args.out.display()))?;
    let s = &plan.summary;
    eprintln!(
        "{}: plan {} for VIO deployment {}: {} step(s), {} Neutron call(s) of {} object(s); findings: {} error(s), {} warning(s), {} info",
        args.out.display(),
        plan.plan_id,
        plan.target.deployment,
        plan.steps.len(),
        s.changes.replay_calls,
        s.changes.replayed_objects,
        s.errors,
        s.warnings,
        s.infos
    );
    warn_if_not_applicable(plan.is_applicable(), &args.out);
    Ok(ExitCode::Success)
}

fn run_mp(mut args: Args) -> Result<ExitCode> {
    let v = &args.vio;
    if v.os.os_cloud.is_some()
        || v.window.nsxv.is_some()
        || v.window.vcenter.is_some()
        || v.nsx_ini.is_some()
        || v.migrator_conf.is_some()
    {
        anyhow::bail!(
            "--os-cloud, --nsxv, --vcenter, --nsx-ini and --migrator-conf belong to --kind vio-v2t"
        );
    }
    if let Some(live) = &args.live {
        let Some(cluster) = args.cluster.clone() else {
            anyhow::bail!("--nsx needs --cluster");
        };
        let dir = PathBuf::from(format!("{}.inventory", args.out.display()));
        let summary = crate::cmd::collect::collect_into(
            live,
            &args.kube,
            &cluster,
            args.user_spec.as_deref(),
            &dir,
        )?;
        eprintln!(
            "{}: collected {} NSX and {} Kubernetes objects",
            dir.display(),
            summary.nsx_objects,
            summary.kube_objects
        );
        if args.user_spec.is_some() {
            args.user_spec = Some(dir.join("user-spec.yaml"));
        }
        args.inventory = Some(dir);
    }
    let Some(inventory_dir) = args.inventory.clone() else {
        anyhow::bail!("give --inventory DIR or --nsx URL");
    };
    let inventory = Inventory::load(&inventory_dir)?;
    let cluster = match args.cluster.clone().or_else(|| {
        inventory.metadata.as_ref().and_then(|m| {
            m.kubernetes
                .as_ref()
                .and_then(|k| k.cluster.clone())
                .or_else(|| m.cloud_foundry.as_ref()?.foundation.clone())
        })
    }) {
        Some(c) => c,
        None => anyhow::bail!(
            "{}: no cluster name in metadata.json; pass --cluster",
            inventory_dir.display()
        ),
    };
    let spec_path = args.user_spec.clone().or_else(|| {
        let p = inventory_dir.join("user-spec.yaml");
        p.exists().then_some(p)
    });
    let spec = match &spec_path {
        Some(p) => Some((
            UserSpec::load(p)?,
            p.clone(),
            std::fs::read(p).with_context(|| format!("{}: cannot read", p.display()))?,
        )),
        None => None,
    };
    let (rules, rules_source) = match &args.rules {
        Some(p) => {
            let bytes =
                std::fs::read(p).with_context(|| format!("{}: cannot read", p.display()))?;
            (
                Rules::load_with_overrides(p)?,
                Some((p.display().to_string(), plan_schema::sha256_hex(&bytes))),
            )
        }
        None => (Rules::builtin(), None),
    };
    let inputs = PlanInputs {
        inventory: &inventory,
        inventory_source: inventory_dir.display().to_string(),
        user_spec: spec.as_ref().map(|(s, p, bytes)| SourcedSpec {
            spec: s,
            source: p.display().to_string(),
            sha256: plan_schema::sha256_hex(bytes),
        }),
        rules: &rules,
        rules_source,
    };
    let opts = PlanOptions {
        cluster,
        created_at: created_at(args.created_at.as_deref()),
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        dfw_admin_sections: args.dfw_admin_sections.map(|p| match p {
            PlacementArg::Above => Placement::Above,
            PlacementArg::Below => Placement::Below,
        }),
    };
    let plan = planner::build_plan(&inputs, &opts)?;
    // The process ends soon: freeing a large inventory object by object only costs time
    // (about 0.3 s at 100k objects); the operating system reclaims it at exit.
    std::mem::forget(inventory);
    let text = plan_schema::write::to_toml(&plan, Some(&args.schema_ref))?;
    std::fs::write(&args.out, text)
        .with_context(|| format!("{}: cannot write plan", args.out.display()))?;
    let s = &plan.summary;
    eprintln!(
        "{}: plan {} for {}: {} import batch(es) of {} object(s), {} update(s), {} DFW change(s); findings: {} error(s), {} warning(s), {} info",
        args.out.display(),
        plan.plan_id,
        plan.target.cluster,
        s.changes.import_batches,
        s.changes.imported_resources,
        s.changes.policy_updates,
        s.changes.dfw_sections_created + s.changes.dfw_section_moves + s.changes.dfw_rule_moves,
        s.errors,
        s.warnings,
        s.infos
    );
    warn_if_not_applicable(plan.is_applicable(), &args.out);
    Ok(ExitCode::Success)
}

/// Either kind: a plan with error findings is written for review, but says it cannot be applied.
fn warn_if_not_applicable(applicable: bool, out: &std::path::Path) {
    if !applicable {
        eprintln!(
            "{}: the plan has error findings: review them (`nsx-migrate show`); it cannot be applied as is",
            out.display()
        );
    }
}
