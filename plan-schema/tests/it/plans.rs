//! The plan contract against the committed examples: round trip, schema, every invalid example.

use std::path::{Path, PathBuf};

use plan_schema::{
    AnyPlan, compute_plan_id, parse_plan, read_mp_plan_file, read_plan_file, schema, with_plan,
    write,
};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn example() -> PathBuf {
    repo().join("examples/plans/small-cluster.toml")
}

fn vio_example() -> PathBuf {
    repo().join("examples/plans/vio-small.toml")
}

#[test]
fn example_reads_and_writes_back_byte_identical() {
    let path = example();
    let text = std::fs::read_to_string(&path).unwrap();
    let plan = read_mp_plan_file(&path).unwrap();
    assert_eq!(plan.steps.len(), 21);
    assert!(plan.is_applicable());

    let written = write::to_toml(&plan, Some("../../plan-schema/schema/plan.schema.json")).unwrap();
    assert_eq!(
        written, text,
        "the example is not in the form nsx-migrate writes"
    );
    let again = parse_plan(&written, &path).unwrap();
    assert_eq!(again, AnyPlan::MpToPolicy(plan));
}

#[test]
fn vio_example_reads_and_writes_back_byte_identical() {
    let path = vio_example();
    let text = std::fs::read_to_string(&path).unwrap();
    let plan = read_plan_file(&path).unwrap();
    let AnyPlan::VioV2t(vio) = &plan else {
        panic!("not a vio-v2t plan")
    };
    assert!(vio.is_applicable());
    assert!(vio.steps.len() >= 10);
    let written = write::to_toml(vio, Some("../../plan-schema/schema/plan.schema.json")).unwrap();
    assert_eq!(
        written, text,
        "the example is not in the form nsx-migrate writes"
    );
    assert_eq!(parse_plan(&written, &path).unwrap(), plan);
}

#[test]
fn a_plan_read_as_the_wrong_kind_names_both_kinds() {
    let err = plan_schema::read_plan_file_of::<plan_schema::mp::MpToPolicy>(&vio_example())
        .unwrap_err()
        .to_string();
    assert!(err.contains("vio-small.toml"), "{err}");
    assert!(
        err.contains("`vio-v2t`") && err.contains("`mp-to-policy`"),
        "{err}"
    );
}

#[test]
fn normalize_orders_by_phase_then_dependencies() {
    let mut plan = read_mp_plan_file(&example()).unwrap();
    let original: Vec<String> = plan.steps.iter().map(|s| s.id.clone()).collect();
    plan.steps.reverse();
    write::normalize(&mut plan);
    let ordered: Vec<String> = plan.steps.iter().map(|s| s.id.clone()).collect();
    // Every step comes after its dependencies and phases never go backwards.
    for (i, step) in plan.steps.iter().enumerate() {
        for dep in &step.depends_on {
            let j = ordered.iter().position(|id| id == dep).unwrap();
            assert!(j < i, "{} placed before its dependency {dep}", step.id);
        }
        if i > 0 {
            assert!(plan.steps[i - 1].phase <= step.phase);
        }
    }
    assert_eq!(ordered.len(), original.len());
}

#[test]
fn committed_schemas_are_up_to_date() {
    for (file, generated) in [
        ("plan.schema.json", schema::plan_schema()),
        ("journal.schema.json", schema::journal_schema()),
    ] {
        let path = repo().join("plan-schema/schema").join(file);
        let committed = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            committed,
            schema::to_pretty(&generated),
            "{file} is out of date: run `cargo run -- schema {} > plan-schema/schema/{file}`",
            file.split('.').next().unwrap()
        );
    }
}

#[test]
fn plan_schema_is_a_valid_draft_2020_12_schema_that_accepts_the_example() {
    let schema = schema::plan_schema();
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    jsonschema::meta::validate(&schema).expect("plan schema is valid against its meta-schema");
    jsonschema::meta::validate(&schema::journal_schema()).expect("journal schema is valid");

    let validator = jsonschema::draft202012::new(&schema).unwrap();
    for path in [example(), vio_example()] {
        let value = read_plan_file(&path).unwrap().to_json();
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
    }
    // The one schema tells the kinds apart: a vio-v2t plan with a Manager-to-Policy target
    // is not valid.
    let mut mixed = read_plan_file(&vio_example()).unwrap().to_json();
    mixed["target"] = read_plan_file(&example()).unwrap().to_json()["target"].clone();
    assert!(!validator.is_valid(&mixed));
}

#[test]
fn a_journal_record_round_trips_and_validates() {
    let line = r#"{"seq":1,"at":"2026-11-20T10:00:00Z","plan_id":"sha256:e61d452c1271b576c3de4098ad1d41d79c2bc0c21a74fddbe4df0920b9dda3d0","event":{"type":"step_intent","step":"update/segment/94acde30","op":"patch","request":{"method":"PATCH","path":"/policy/api/v1/infra/segments/94acde30","body":{"display_name":"seg"}}}}"#;
    let value: serde_json::Value = serde_json::from_str(line).unwrap();
    assert!(schema::validate_journal_value(&value).is_empty());
    let record: plan_schema::JournalRecord = serde_json::from_value(value.clone()).unwrap();
    assert_eq!(serde_json::to_value(&record).unwrap(), value);

    let mut bad = value.clone();
    bad["event"]["type"] = "step_guessed".into();
    assert!(!schema::validate_journal_value(&bad).is_empty());
}

/// The content hash of a fixture that is valid TOML and schema (for re-sealing fixtures).
fn content_id(text: &str) -> Option<String> {
    match text.contains("kind = \"vio-v2t\"") {
        true => toml::from_str::<plan_schema::vio::Plan>(text)
            .ok()
            .map(|p| compute_plan_id(&p)),
        false => toml::from_str::<plan_schema::mp::Plan>(text)
            .ok()
            .map(|p| compute_plan_id(&p)),
    }
}

#[test]
fn every_invalid_example_is_rejected_with_its_message() {
    let dir = repo().join("examples/plans/invalid");
    let update = std::env::var_os("NSX_MIGRATE_UPDATE_FIXTURES").is_some();
    let mut seen = 0;
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        let text = std::fs::read_to_string(&path).unwrap();
        let expects: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# expect: "))
            .collect();
        assert!(
            !expects.is_empty(),
            "{} has no `# expect:` line",
            path.display()
        );

        // Fixtures other than the seal one are sealed, so they fail for one reason only.
        let about_seal = expects.iter().any(|e| e.contains("plan altered"));
        if !about_seal && let Some(id) = content_id(&text) {
            let current = text
                .lines()
                .find_map(|l| l.strip_prefix("plan_id = \""))
                .map(|s| s.trim_end_matches('"'));
            if current != Some(id.as_str()) {
                if update {
                    let fixed = text.replacen(
                        &format!("plan_id = \"{}\"", current.unwrap()),
                        &format!("plan_id = \"{id}\""),
                        1,
                    );
                    std::fs::write(&path, fixed).unwrap();
                } else {
                    panic!(
                        "{} is not sealed; rerun with NSX_MIGRATE_UPDATE_FIXTURES=1",
                        path.display()
                    );
                }
            }
        }

        let err = read_plan_file(&path).expect_err(&path.display().to_string());
        let message = err.to_string();
        for e in &expects {
            assert!(
                message.contains(e),
                "{}: expected {e:?} in:\n{message}",
                path.display()
            );
        }
        assert!(
            message.starts_with(&path.display().to_string()),
            "error names the file: {message}"
        );
        if !about_seal {
            assert!(
                !message.contains("plan altered"),
                "{}: fails for a second reason:\n{message}",
                path.display()
            );
        }
        // Every located problem names a line.
        for p in err.problems() {
            assert!(
                p.line.is_some(),
                "{}: problem without a line: {p}",
                path.display()
            );
        }
        seen += 1;
    }
    assert!(seen >= 12, "only {seen} invalid examples");
}

#[test]
fn editing_one_tag_by_hand_breaks_the_seal() {
    let text = std::fs::read_to_string(example()).unwrap();
    let edited = text.replacen("tag = \"lb-vip-pool\"", "tag = \"lb-vip-pool-x\"", 1);
    assert_ne!(edited, text);
    let err = parse_plan(&edited, Path::new("edited.toml")).unwrap_err();
    let problems = err.problems();
    assert_eq!(problems.len(), 1, "{err}");
    assert_eq!(problems[0].pointer, "/plan_id");
    assert!(
        problems[0]
            .message
            .contains("plan altered after it was written")
    );
    // And a deliberate re-seal makes it valid again.
    let mut plan =
        plan_schema::read::parse_plan_unsealed(&edited, Path::new("edited.toml")).unwrap();
    let resealed = with_plan!(&mut plan, p => {
        plan_schema::seal(p);
        write::to_toml(p, None).unwrap()
    });
    parse_plan(&resealed, Path::new("resealed.toml")).unwrap();
}

#[test]
fn created_at_is_not_covered_by_the_seal() {
    let text = std::fs::read_to_string(example()).unwrap();
    let edited = text.replacen(
        "created_at = \"2026-11-20T09:45:00Z\"",
        "created_at = \"2026-11-21T08:00:00Z\"",
        1,
    );
    assert_ne!(edited, text);
    parse_plan(&edited, Path::new("edited.toml")).unwrap();
}

#[test]
fn vio_reconfig_names_are_checked_and_default_when_absent() {
    let text = std::fs::read_to_string(vio_example()).unwrap();
    let AnyPlan::VioV2t(vio) = read_plan_file(&vio_example()).unwrap() else {
        panic!("not a vio-v2t plan")
    };
    assert!(
        vio.requirements.reconfig.is_default(),
        "absent means today's names"
    );
    let with = |table: &str| {
        text.replacen(
            "compute_manager = true\n",
            &format!("compute_manager = true\n\n[requirements.reconfig]\n{table}"),
            1,
        )
    };
    let ok = plan_schema::read::parse_plan_unsealed(
        &with("secret_name = \"site-secret\"\n"),
        Path::new("ok.toml"),
    )
    .unwrap();
    let AnyPlan::VioV2t(ok) = ok else {
        panic!("not a vio-v2t plan")
    };
    assert_eq!(ok.requirements.reconfig.secret_name, "site-secret");
    assert_eq!(ok.requirements.reconfig.secret_key, "nsxp_password");
    let err = plan_schema::read::parse_plan_unsealed(
        &with("secret_name = \"Site_Secret\"\n"),
        Path::new("bad.toml"),
    )
    .unwrap_err();
    assert!(
        err.problems()
            .iter()
            .any(|p| p.pointer == "/requirements/reconfig/secret_name"
                && p.message.contains("Site_Secret")),
        "{err}"
    );
}

/// Feedback answers by category and object (`vertical`, `sub_vertical`, `object`) read, write
/// back and read again the same; answers by `request` alone (plans written before those fields
/// existed) read and write as before; an answer naming its request both ways, or neither, or
/// twice, is refused at its pointer.
#[test]
fn vio_feedback_answers_by_category_and_object_round_trip_and_old_answers_read() {
    use plan_schema::vio::{Action, FeedbackKey};
    let text = std::fs::read_to_string(vio_example()).unwrap();
    let with = |answers: &str| {
        let anchor = "kind = \"edge_cutover\"\nstart = \"operator\"\ntimeout_hours = 12\n";
        assert!(text.contains(anchor));
        text.replacen(anchor, &format!("{anchor}\n{answers}"), 1)
    };
    let both = with(
        "[[steps.action.feedback]]\nrequest = \"EDGE_CUTOVER_DLR\"\naction = \"skip\"\n\n\
         [[steps.action.feedback]]\nvertical = \"EDGE\"\nsub_vertical = \"DLR_GATEWAY\"\nobject = \"edge-7\"\naction = \"map\"\nvalue = \"9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a\"\n",
    );
    let AnyPlan::VioV2t(plan) =
        plan_schema::read::parse_plan_unsealed(&both, Path::new("both.toml")).unwrap()
    else {
        panic!("not a vio-v2t plan")
    };
    let cutover = plan
        .steps
        .iter()
        .find_map(|s| match &s.action {
            Action::EdgeCutover(c) => Some(c),
            _ => None,
        })
        .unwrap();
    let [old, new] = &cutover.feedback[..] else {
        panic!("{:?}", cutover.feedback)
    };
    assert_eq!(
        (
            old.request.as_str(),
            old.vertical.as_str(),
            old.object.as_str()
        ),
        ("EDGE_CUTOVER_DLR", "", "")
    );
    assert_eq!(
        (
            new.request.as_str(),
            new.vertical.as_str(),
            new.sub_vertical.as_str(),
            new.object.as_str()
        ),
        ("", "EDGE", "DLR_GATEWAY", "edge-7")
    );
    // Round trip: written, the old answer has no empty new fields, and it reads back equal.
    let written = write::to_toml(&plan, None).unwrap();
    assert!(!written.contains("vertical = \"\"") && !written.contains("request = \"\""));
    let AnyPlan::VioV2t(again) =
        plan_schema::read::parse_plan_unsealed(&written, Path::new("again.toml")).unwrap()
    else {
        panic!("not a vio-v2t plan")
    };
    assert_eq!(again, plan);

    // Matching: the answer by object takes the request about edge-7 of that category only; the
    // answer by hash takes every request of its kind; by id beats by object beats by hash.
    let key = |sub: &'static str, obj: &'static str| FeedbackKey {
        vertical: "EDGE",
        sub_vertical: sub,
        v_object_id: obj,
        object_id: "",
    };
    assert!(new.answers(
        "feedback-1",
        "EDGE_CUTOVER_DLR_GATEWAY",
        &key("DLR_GATEWAY", "edge-7")
    ));
    assert!(!new.answers(
        "feedback-2",
        "EDGE_CUTOVER_DLR_GATEWAY",
        &key("DLR_GATEWAY", "edge-8")
    ));
    assert!(!new.answers("feedback-3", "EDGE_CUTOVER_ESG", &key("ESG", "edge-7")));
    assert!(old.answers("feedback-4", "EDGE_CUTOVER_DLR", &key("DLR", "edge-9")));
    assert!(!old.answers("feedback-5", "EDGE_CUTOVER_ESG", &key("ESG", "edge-9")));
    let by_id = plan_schema::vio::FeedbackResponse {
        request: "feedback-1".into(),
        action: "skip".into(),
        ..Default::default()
    };
    assert!(by_id.precision("feedback-1") > new.precision("feedback-1"));
    assert!(new.precision("feedback-1") > old.precision("feedback-1"));

    // Refusals, each at its pointer.
    for (answers, pointer, says) in [
        (
            "[[steps.action.feedback]]\nrequest = \"h\"\nobject = \"edge-7\"\nvertical = \"EDGE\"\naction = \"map\"\n",
            "/feedback/0/request",
            "not both",
        ),
        (
            "[[steps.action.feedback]]\nobject = \"edge-7\"\naction = \"map\"\n",
            "/feedback/0/vertical",
            "`vertical` and `object`",
        ),
        (
            "[[steps.action.feedback]]\nrequest = \"h\"\naction = \"skip\"\n\n[[steps.action.feedback]]\nrequest = \"h\"\naction = \"map\"\n",
            "/feedback/1",
            "repeats answer 0",
        ),
    ] {
        let err = plan_schema::read::parse_plan_unsealed(&with(answers), Path::new("bad.toml"))
            .unwrap_err();
        assert!(
            err.problems()
                .iter()
                .any(|p| p.pointer.ends_with(pointer) && p.message.contains(says)),
            "{answers}: {err}"
        );
    }
}
