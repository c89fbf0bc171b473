//! `peergen graph` (docs/graph.md): every format of the bundled sentry fleet, DOT through
//! Graphviz, the SVG in headless Chromium, the Mermaid subset, hostile monikers, and the errors.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::harness::*;
use crate::mermaid;

fn sentries() -> String {
    repo_root()
        .join("inventories/sentries.yaml")
        .display()
        .to_string()
}

/// The bundled sentry fleet's graph of `consumer` in `format`, with `extra` arguments.
fn graph(env: &Env, consumer: &str, format: &str, extra: &[&str]) -> Run {
    let inventory = sentries();
    let mut args = vec![
        "-q",
        "graph",
        "-i",
        &inventory,
        "--consumer",
        consumer,
        "--format",
        format,
    ];
    args.extend(extra);
    env.run(args)
}

/// `program args…` bounded by coreutils `timeout`, so a hung tool fails the test instead of CI.
fn bounded(seconds: u32, program: &Path) -> Command {
    let mut c = Command::new(tool("timeout"));
    c.arg("--kill-after=5")
        .arg(seconds.to_string())
        .arg(program);
    c
}

/// `dot -Tsvg` of `dot_text`: Graphviz must accept it.
fn graphviz(dot_text: &str) -> String {
    let mut child = bounded(60, &tool("dot"))
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), dot_text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "dot refused (or warned about) the graph: {}\n{dot_text}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

const CONSUMERS: [&str; 5] = ["0", "1", "3", "5", "6"];

#[test]
fn every_format_of_the_sentry_fleet_is_snapshotted_and_byte_identical_on_a_rerun() {
    let env = Env::new();
    for (consumer, own) in [("pion-1", "alice"), ("neutron-1", "bob")] {
        for format in ["text", "dot", "mermaid"] {
            let run = graph(&env, consumer, format, &["--self", own]);
            run.success();
            assert_eq!(run.stderr, "");
            insta::assert_snapshot!(format!("graph_{consumer}_{format}"), run.stdout);
            let again = graph(&Env::new(), consumer, format, &["--self", own]);
            assert_eq!(again.stdout, run.stdout, "{consumer} {format}");
        }
    }
}

#[test]
fn graphviz_accepts_every_generated_dot_file() {
    let env = Env::new();
    let example = example_inventory().display().to_string();
    let state = example_state().display().to_string();
    for consumer in CONSUMERS {
        let run = graph(&env, consumer, "dot", &[]);
        run.success();
        let svg = graphviz(&run.stdout);
        assert!(svg.contains("<svg"), "{svg}");
        let run = env.run([
            "-q",
            "graph",
            "-i",
            &example,
            "--state",
            &state,
            "--consumer",
            consumer,
            "--format",
            "dot",
            "--self",
            "carol",
        ]);
        run.success();
        graphviz(&run.stdout);
    }
}

#[test]
fn every_mermaid_chart_is_in_the_subset_with_one_subgraph_per_validator() {
    let env = Env::new();
    for consumer in CONSUMERS {
        let run = graph(&env, consumer, "mermaid", &["--self", "alice"]);
        run.success();
        let chart = mermaid::parse(&run.stdout).unwrap_or_else(|e| panic!("{e}\n{}", run.stdout));
        let text = graph(&env, consumer, "text", &[]);
        // The text summary's first line: "…: N validators, M nodes (…), L links (…)".
        let first = text.stdout.lines().next().unwrap();
        let number_before = |word: &str| -> usize {
            let at = first.find(word).unwrap();
            first[..at]
                .trim_end()
                .rsplit(' ')
                .next()
                .unwrap()
                .parse()
                .unwrap()
        };
        assert_eq!(
            chart.subgraphs.len(),
            number_before(" validators"),
            "{first}"
        );
        assert_eq!(chart.nodes.len(), number_before(" nodes"), "{first}");
        assert_eq!(chart.links.len(), number_before(" links"), "{first}");
        let own: Vec<&String> = chart
            .classes
            .iter()
            .filter(|(_, c)| c.iter().any(|c| c == "own"))
            .map(|(n, _)| n)
            .collect();
        assert!(
            own.iter()
                .all(|n| chart.nodes[*n].2.as_deref() == Some("g0")),
            "alice's nodes, and only hers, are highlighted: {own:?}"
        );
    }
}

/// The state with hostile monikers: text that tries to leave a DOT string, a Mermaid label or the
/// Markdown fence around it.
fn hostile_state(env: &Env) -> PathBuf {
    let text = std::fs::read_to_string(example_state()).unwrap();
    let mut state: serde_json::Value = serde_json::from_str(&text).unwrap();
    let evil = [
        (
            "alice",
            "al\"ice\"]; n9 [label=\"x\"]; \\N <script>alert(1)</script>",
        ),
        (
            "bob",
            "bob\"])\n```\n  n0 --> n1\nend\n<img src=x onerror=alert(1)> #35; `x` \u{202e}",
        ),
    ];
    for consumer in state["consumers"].as_array_mut().unwrap() {
        for v in consumer["validators"].as_array_mut().unwrap() {
            for (from, to) in evil {
                if v["moniker"] == from {
                    v["moniker"] = to.into();
                }
            }
        }
    }
    env.write("hostile-state.json", &state.to_string())
}

#[test]
fn hostile_monikers_cannot_inject_dot_mermaid_or_html() {
    let env = Env::new();
    let state = hostile_state(&env).display().to_string();
    let args = |format: &'static str| {
        vec![
            "-q".to_owned(),
            "graph".to_owned(),
            "-i".to_owned(),
            sentries(),
            "--state".to_owned(),
            state.clone(),
            "--consumer".to_owned(),
            "pion-1".to_owned(),
            "--format".to_owned(),
            format.to_owned(),
        ]
    };
    let run = env.run(args("mermaid"));
    run.success();
    let chart = mermaid::parse(&run.stdout).unwrap_or_else(|e| panic!("{e}\n{}", run.stdout));
    assert_eq!(
        (chart.subgraphs.len(), chart.nodes.len(), chart.links.len()),
        (3, 7, 14)
    );
    assert!(
        chart.subgraphs[1]
            .1
            .starts_with("bob (bob\"])\\n```\\n  n0 --> n1\\nend\\n<img"),
        "the moniker is shown, whole: {:?}",
        chart.subgraphs[1]
    );
    let doc = format!("# graph\n\n```mermaid\n{}```\n", run.stdout);
    let (blocks, html) = mermaid::blocks(&doc);
    assert!(!html, "{doc}");
    assert_eq!(blocks, vec![run.stdout.clone()]);

    let run = env.run(args("dot"));
    run.success();
    let svg = graphviz(&run.stdout);
    assert!(!svg.contains("<script") && !svg.contains("<img"), "{svg}");
    assert_eq!(
        svg.matches("class=\"node\"").count(),
        7,
        "no node was injected:\n{svg}"
    );
    assert!(
        svg.contains("alice (al&quot;ice&quot;]; n9 [label=&quot;x&quot;]; \\N &lt;script&gt;"),
        "{svg}"
    );
    let run = env.run(args("text"));
    run.success();
    assert!(!run.stdout.contains('\u{202e}'));
}

/// An HTML page holding the SVG inline, with a script that measures it as Chromium lays it out
/// and writes the result into the page, which `--dump-dom` then prints.
const PROBE: &str = r#"<pre id="probe">not run</pre>
<script>
const svg = document.querySelector('svg');
const canvas = svg.getBoundingClientRect();
const inside = (b, c) => b.left >= c.left - 0.5 && b.right <= c.right + 0.5 && b.top >= c.top - 0.5 && b.bottom <= c.bottom + 0.5;
const result = { loaded: true, width: canvas.width, height: canvas.height, clusters: [], nodes: 0, texts: 0, outside: [], outsideNode: [] };
for (const g of svg.querySelectorAll('g.cluster')) result.clusters.push(g.querySelector('text').textContent);
for (const t of svg.querySelectorAll('text')) {
  result.texts++;
  if (!inside(t.getBoundingClientRect(), canvas)) result.outside.push(t.textContent);
}
for (const g of svg.querySelectorAll('g.node')) {
  result.nodes++;
  const shape = g.querySelector('polygon, path, ellipse').getBoundingClientRect();
  for (const t of g.querySelectorAll('text')) if (!inside(t.getBoundingClientRect(), shape)) result.outsideNode.push(t.textContent);
}
document.getElementById('probe').textContent = JSON.stringify(result);
</script>"#;

fn chromium(env: &Env, args: &[String]) -> std::process::Output {
    bounded(120, &tool("chromium"))
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            "--no-first-run",
        ])
        .arg(format!(
            "--user-data-dir={}",
            env.path("chromium").display()
        ))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn the_svg_of_the_sentry_fleet_renders_in_headless_chromium() {
    let env = Env::new();
    let run = graph(&env, "pion-1", "svg", &["--self", "alice"]);
    run.success();
    let svg = &run.stdout;
    let start = svg.find("<svg").expect("an SVG document");
    let page = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>graph</title></head>\n<body style=\"margin:0\">\n{}\n{PROBE}\n</body></html>\n",
        &svg[start..]
    );
    let html = env.write("graph.html", &page);
    let url = format!("file://{}", html.display());
    let out = chromium(&env, &["--dump-dom".to_owned(), url.clone()]);
    let probe = probe_of(&out, "probe");
    let result: serde_json::Value = serde_json::from_str(&probe)
        .unwrap_or_else(|e| panic!("{e}: the probe did not run: {probe}"));
    assert_eq!(result["loaded"], true);
    assert_eq!(
        result["clusters"],
        serde_json::json!(["alice", "bob", "carol"]),
        "one group per validator"
    );
    assert_eq!(result["nodes"], 7);
    assert_eq!(
        result["texts"], 18,
        "two lines per node, three captions and the title"
    );
    assert_eq!(
        result["outside"],
        serde_json::json!([]),
        "text beyond the canvas: {result}"
    );
    assert_eq!(
        result["outsideNode"],
        serde_json::json!([]),
        "text beyond its node: {result}"
    );

    // The picture itself: a screenshot of the whole canvas, as a PNG of the requested size.
    let (w, h) = (
        result["width"].as_f64().unwrap().ceil() as u32,
        result["height"].as_f64().unwrap().ceil() as u32,
    );
    let png = env.path("graph.png");
    let out = chromium(
        &env,
        &[
            format!("--screenshot={}", png.display()),
            format!("--window-size={w},{h}"),
            url,
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    // The screenshot looked at in turn: drawn into a canvas, its pixels counted.
    let look = env.write("look.html", LOOK);
    let out = chromium(
        &env,
        &[
            "--allow-file-access-from-files".to_owned(),
            "--virtual-time-budget=10000".to_owned(),
            "--dump-dom".to_owned(),
            format!("file://{}", look.display()),
        ],
    );
    let pixels: serde_json::Value = serde_json::from_str(&probe_of(&out, "pixels")).unwrap();
    assert_eq!(
        (pixels["width"].as_u64(), pixels["height"].as_u64()),
        (Some(w.into()), Some(h.into()))
    );
    let total = f64::from(w * h);
    let share = |key: &str| pixels[key].as_f64().unwrap() / total;
    assert!(
        (0.05..0.5).contains(&share("ink")),
        "a drawing, not a blank or black page: {pixels}"
    );
    assert!(
        share("own") > 0.02,
        "alice's three nodes are filled in the --self colour: {pixels}"
    );
}

/// A page that draws `graph.png` beside it into a canvas and counts pixels that are not white and
/// pixels in the `--self` fill colour (#fff8c5).
const LOOK: &str = r#"<!DOCTYPE html><html><body><pre id="pixels">not drawn</pre>
<script>
const img = new Image();
img.onload = () => {
  const c = document.createElement('canvas');
  c.width = img.naturalWidth; c.height = img.naturalHeight;
  const ctx = c.getContext('2d');
  ctx.drawImage(img, 0, 0);
  const d = ctx.getImageData(0, 0, c.width, c.height).data;
  let ink = 0, own = 0;
  for (let i = 0; i < d.length; i += 4) {
    const [r, g, b] = [d[i], d[i + 1], d[i + 2]];
    if (!(r > 250 && g > 250 && b > 250)) ink++;
    if (Math.abs(r - 0xff) < 4 && Math.abs(g - 0xf8) < 4 && Math.abs(b - 0xc5) < 4) own++;
  }
  document.getElementById('pixels').textContent = JSON.stringify({ width: c.width, height: c.height, ink, own });
};
img.onerror = () => { document.getElementById('pixels').textContent = 'not loaded'; };
img.src = 'graph.png';
</script></body></html>
"#;

/// The text a page's script wrote into `<pre id="{id}">`, from Chromium's `--dump-dom`.
fn probe_of(out: &std::process::Output, id: &str) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dom = String::from_utf8_lossy(&out.stdout);
    dom.split_once(&format!("<pre id=\"{id}\">"))
        .and_then(|(_, rest)| rest.split_once("</pre>"))
        .map(|(text, _)| {
            text.replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&amp;", "&")
        })
        .unwrap_or_else(|| panic!("the page did not load:\n{dom}"))
}

#[test]
fn the_committed_example_picture_is_the_current_graph() {
    let env = Env::new();
    let dot = graph(&env, "pion-1", "dot", &["--self", "alice"]);
    dot.success();
    let committed = std::fs::read_to_string(repo_root().join("docs/graph-sentries.dot")).unwrap();
    assert_eq!(
        committed, dot.stdout,
        "regenerate docs/graph-sentries.dot and .svg (docs/graph.md)"
    );
    let svg = std::fs::read_to_string(repo_root().join("docs/graph-sentries.svg")).unwrap();
    assert_eq!(svg.matches("class=\"cluster\"").count(), 3);
    assert_eq!(svg.matches("class=\"node\"").count(), 7);
    assert_eq!(svg.matches("class=\"edge\"").count(), 14);
}

/// A directory holding only `dot` as given, for a PATH without Graphviz or with a fake one.
fn path_with(env: &Env, dot: Option<&str>) -> PathBuf {
    let dir = env.path("bin");
    std::fs::create_dir_all(&dir).unwrap();
    if let Some(script) = dot {
        let path = dir.join("dot");
        std::fs::write(&path, script).unwrap();
        let mut permissions = std::fs::metadata(&path).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
        std::fs::set_permissions(&path, permissions).unwrap();
    }
    dir
}

fn graph_with_path(env: &Env, path: &Path, format: &str, extra: &[&str]) -> Run {
    let mut c = env.command();
    c.env("PATH", path).args([
        "-q",
        "graph",
        "-i",
        &sentries(),
        "--consumer",
        "pion-1",
        "--format",
        format,
    ]);
    c.args(extra);
    Run::from(c.output().unwrap())
}

#[test]
fn without_graphviz_svg_fails_clearly_and_dot_and_mermaid_still_work() {
    let env = Env::new();
    let empty = path_with(&env, None);
    graph_with_path(&env, &empty, "svg", &[]).failure().stderr_is(
        "error: --format svg needs Graphviz's `dot`, which is not on PATH: install it (Debian/Ubuntu: apt-get install graphviz), or use --format dot or --format mermaid\n",
    );
    assert_eq!(graph_with_path(&env, &empty, "svg", &[]).stdout, "");
    graph_with_path(&env, &empty, "dot", &[])
        .success()
        .stdout_has("graph \"pion-1\" {");
    graph_with_path(&env, &empty, "mermaid", &[])
        .success()
        .stdout_has("flowchart LR\n");
}

#[test]
fn a_dot_that_hangs_is_stopped_at_the_timeout_and_a_failing_one_is_reported() {
    let env = Env::new();
    let dir = path_with(
        &env,
        Some(&format!("#!/bin/sh\nexec {} 60\n", tool("sleep").display())),
    );
    let started = std::time::Instant::now();
    graph_with_path(&env, &dir, "svg", &["--timeout", "1"])
        .failure()
        .stderr_is(
            "error: `dot -Tsvg` did not finish within 1s and was stopped: raise --timeout, or use Graphviz's force-directed layout for a large graph (peergen graph --format dot | sfdp -Tsvg)\n",
        );
    assert!(started.elapsed() < std::time::Duration::from_secs(30));

    let env = Env::new();
    let dir = path_with(
        &env,
        Some("#!/bin/sh\necho 'Error: syntax error in line 1' >&2\nexit 1\n"),
    );
    graph_with_path(&env, &dir, "svg", &[])
        .failure()
        .stderr_is("error: `dot -Tsvg` failed (exit status: 1): Error: syntax error in line 1\n");
}
