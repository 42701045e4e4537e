//! The container image's policy, read from `Dockerfile`: there is no Docker engine where the
//! tests run, so the file is checked line by line instead of built. The demo's side of the
//! health check (`server --health-check` against `/health`) is exercised in
//! `tests/example_server.rs`.

use std::fs;

/// One instruction: its keyword, upper-cased, and its arguments with continuation lines
/// joined.
#[derive(Debug)]
struct Instruction {
    keyword: String,
    args: String,
}

fn read(path: &str) -> String {
    let path = format!("{}/{path}", env!("CARGO_MANIFEST_DIR"));
    fs::read_to_string(&path).unwrap_or_else(|err| panic!("{path}: {err}"))
}

fn instructions() -> Vec<Instruction> {
    let text = read("Dockerfile");
    let mut out = Vec::new();
    let mut pending = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || (line.is_empty() && pending.is_empty()) {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(start) => pending.push_str(start),
            None => {
                pending.push_str(line);
                let (keyword, args) = pending.split_once(' ').unwrap_or((&pending, ""));
                out.push(Instruction {
                    keyword: keyword.to_ascii_uppercase(),
                    args: args.split_whitespace().collect::<Vec<_>>().join(" "),
                });
                pending.clear();
            }
        }
    }
    out
}

/// The instructions of the last stage, the image that runs.
fn runtime_stage(all: &[Instruction]) -> &[Instruction] {
    let start = all
        .iter()
        .rposition(|i| i.keyword == "FROM")
        .expect("a FROM");
    &all[start..]
}

fn find<'a>(stage: &'a [Instruction], keyword: &str) -> Vec<&'a Instruction> {
    stage.iter().filter(|i| i.keyword == keyword).collect()
}

#[test]
fn image_is_built_in_one_stage_and_runs_from_a_slim_one() {
    let all = instructions();
    let froms = find(&all, "FROM");

    assert!(froms.len() >= 2, "multi-stage build expected: {froms:?}");
    let base = &froms.last().unwrap().args;
    assert!(
        base.contains("slim") || base.contains("distroless"),
        "{base}"
    );
    for from in &froms {
        let image = from.args.split_whitespace().next().unwrap();
        assert!(image.contains(':'), "pin the tag: {image}");
        assert!(!image.ends_with(":latest"), "pin the tag: {image}");
    }
    let runtime = runtime_stage(&all);
    let copies = find(runtime, "COPY");
    assert!(
        copies.iter().all(|c| c.args.starts_with("--from=")),
        "the runtime stage takes only build output: {copies:?}"
    );
    assert!(
        find(&all, "ADD").is_empty(),
        "COPY, not ADD (no remote fetches)"
    );
}

#[test]
fn runs_as_uid_1000_with_nothing_run_as_root_after() {
    let all = instructions();
    let runtime = runtime_stage(&all);
    let users = find(runtime, "USER");

    assert_eq!(users.len(), 1, "{users:?}");
    let uid = users[0].args.split(':').next().unwrap();
    assert_eq!(uid, "1000");
    let user_at = runtime.iter().position(|i| i.keyword == "USER").unwrap();
    for later in &runtime[user_at..] {
        assert_ne!(
            later.keyword, "RUN",
            "nothing runs after dropping root: {later:?}"
        );
    }
    for start in ["ENTRYPOINT", "CMD"] {
        let at = runtime.iter().position(|i| i.keyword == start).unwrap();
        assert!(at > user_at, "{start} comes after USER");
    }
}

#[test]
fn listens_on_8080_with_a_health_check_on_health() {
    let all = instructions();
    let runtime = runtime_stage(&all);

    let exposed: Vec<&str> = find(runtime, "EXPOSE")
        .iter()
        .flat_map(|i| i.args.split_whitespace())
        .collect();
    assert_eq!(exposed, ["8080"]);
    let cmd = &find(runtime, "CMD")[0].args;
    for needed in [r#""--public""#, r#""--port", "8080""#] {
        assert!(cmd.contains(needed), "CMD {cmd} lacks {needed}");
    }
    let health = find(runtime, "HEALTHCHECK");
    assert_eq!(health.len(), 1);
    let health = &health[0].args;
    assert!(health.contains(r#"CMD ["/usr/local/bin/tower-security-demo", "--health-check""#));
    assert!(health.contains(r#""--port", "8080""#), "{health}");
    for option in ["--interval=", "--timeout=", "--retries="] {
        assert!(health.contains(option), "HEALTHCHECK lacks {option}");
    }
    // Exec form: no shell in between, so signals reach the server.
    for keyword in ["ENTRYPOINT", "CMD"] {
        let args = &find(runtime, keyword)[0].args;
        assert!(
            args.starts_with('[') && args.ends_with(']'),
            "{keyword} {args}"
        );
    }
}

#[test]
fn documented_run_line_is_read_only_without_capabilities_or_privilege_gain() {
    let dockerfile = read("Dockerfile");
    let readme = read("README.md");

    for flag in [
        "--read-only",
        "--cap-drop ALL",
        "--security-opt no-new-privileges",
    ] {
        assert!(
            dockerfile.contains(flag),
            "Dockerfile's run line lacks {flag}"
        );
        assert!(readme.contains(flag), "README's run line lacks {flag}");
    }
    assert!(
        readme.contains("not built here"),
        "README says the image is not built by the tests"
    );
    let ignored: Vec<String> = read(".dockerignore").lines().map(str::to_owned).collect();
    for path in ["target/", ".git/"] {
        assert!(
            ignored.iter().any(|line| line == path),
            ".dockerignore lacks {path}"
        );
    }
}
