//! The multipart scenarios of `mw4_body_parsers`: seeded uploads, tricky framing, malformed bodies.

use backlings_grade::Rng;
use serde_json::Value;

use super::inputs::{self, Framing, PartSpec};
use super::{Probe, echo, post};

/// `count` seeded uploads with plain framing; with `traps`, file contents hold what trips sloppy parsers.
pub(super) fn uploads(rng: &mut Rng, count: usize, traps: bool) -> Vec<Probe> {
    (0..count)
        .map(|index| {
            let boundary = inputs::boundary(rng);
            let parts = seeded_parts(rng, &boundary, 3000, traps);
            upload(rng, &format!("/upload/{index}"), &boundary, &parts, &Framing::default(),
                "each part with a filename is a file (exact bytes: size and SHA-256), each without is a text field, \
                 in the order they were sent")
        })
        .collect()
}

pub(super) fn seeded_parts(
    rng: &mut Rng,
    boundary: &str,
    max_file: u64,
    traps: bool,
) -> Vec<PartSpec> {
    let mut parts = Vec::new();
    for i in 0..rng.range(1, 5) {
        if rng.chance(1, 2) {
            parts.push(PartSpec::field(
                &format!("f{i}-{}", rng.word(3)),
                &inputs::tricky_text(rng),
            ));
        } else {
            let content_type = match rng.below(4) {
                0 => None,
                1 => Some("image/png"),
                2 => Some("application/pdf"),
                _ => Some("text/plain; charset=utf-8"),
            };
            let filename = format!(
                "{}.{}",
                rng.word(5),
                rng.pick(&["png", "pdf", "bin", "txt"])
            );
            parts.push(PartSpec::file(
                &format!("file{i}"),
                &filename,
                content_type,
                inputs::file_content(rng, boundary, max_file, traps),
            ));
        }
    }
    parts
}

pub(super) fn upload(
    rng: &mut Rng,
    path: &str,
    boundary: &str,
    parts: &[PartSpec],
    framing: &Framing,
    rule: &str,
) -> Probe {
    let body = inputs::multipart(rng, boundary, parts, framing);
    let fields: Vec<(String, String)> = parts
        .iter()
        .filter(|p| p.filename.is_none())
        .map(|p| {
            (
                p.name.clone(),
                String::from_utf8_lossy(&p.content).into_owned(),
            )
        })
        .collect();
    let files: Vec<Value> = parts
        .iter()
        .filter(|p| p.filename.is_some())
        .map(inputs::file_json)
        .collect();
    Probe {
        request: post(path, Some(&inputs::content_type(rng, boundary)), body),
        expected: Ok(echo(path, &[], "multipart", Value::Null, &fields, &files)),
        rule: rule.to_string(),
    }
}

pub(super) fn tricky_multipart(rng: &mut Rng) -> Vec<Probe> {
    let mut probes = Vec::new();
    let boundary = inputs::boundary(rng);
    // The boundary in the middle of a line, in a field and in a file: not a delimiter.
    let inside = format!("see --{boundary} here");
    let mut content = rng.bytes(200);
    content.extend_from_slice(format!("x--{boundary}--").as_bytes());
    content.extend_from_slice(&rng.bytes(50));
    probes.push(upload(
        rng,
        "/tricky/inside",
        &boundary,
        &[PartSpec::field("note", &inside), PartSpec::file("doc", "doc.bin", None, content)],
        &Framing::default(),
        "a delimiter is `--boundary` at the start of a line (right after a CRLF): the boundary in the middle of a \
         line is content",
    ));
    // Content that ends with CRLFs of its own, and an empty file.
    let mut crlf = rng.bytes(100);
    crlf.extend_from_slice(b"\r\n\r\n");
    probes.push(upload(
        rng,
        "/tricky/crlf",
        &boundary,
        &[
            PartSpec::file("a", "a.txt", Some("text/plain"), crlf),
            PartSpec::file("empty", "empty.txt", None, Vec::new()),
            PartSpec::field("last", "line\r\n"),
        ],
        &Framing::default(),
        "the CRLF before a delimiter belongs to the delimiter: exactly one is removed, so content ending in \
         `\\r\\n` keeps it (and an empty part is empty)",
    ));
    // Preamble, epilogue, padding after the boundary, odd header names and parameter order, quoted names.
    let parts = [
        PartSpec::field("title", "Holiday"),
        PartSpec::file(
            "photo",
            "summer; \"final\".jpg",
            Some("image/jpeg"),
            inputs::file_content(rng, &boundary, 600, true),
        ),
    ];
    probes.push(upload(
        rng,
        "/tricky/framing",
        &boundary,
        &parts,
        &Framing { preamble: true, epilogue: true, padding: true, odd_headers: true },
        "the preamble and the epilogue are ignored, a delimiter line may end with spaces or tabs, part header names \
         are case-insensitive, and a quoted parameter may hold `;` and escaped quotes",
    ));
    // Boundaries full of the characters a boundary may hold, always quoted.
    for index in 0..4 {
        let special: String = format!("'()+_,-./:=?{}", rng.word(6));
        let parts = seeded_parts(rng, &special, 1500, false);
        let body = inputs::multipart(rng, &special, &parts, &Framing::default());
        let fields: Vec<(String, String)> = parts
            .iter()
            .filter(|p| p.filename.is_none())
            .map(|p| {
                (
                    p.name.clone(),
                    String::from_utf8_lossy(&p.content).into_owned(),
                )
            })
            .collect();
        let files: Vec<Value> = parts
            .iter()
            .filter(|p| p.filename.is_some())
            .map(inputs::file_json)
            .collect();
        let path = format!("/tricky/boundary/{index}");
        probes.push(Probe {
            request: post(&path, Some(&format!("multipart/form-data; boundary=\"{special}\"")), body),
            expected: Ok(echo(&path, &[], "multipart", Value::Null, &fields, &files)),
            rule: "a boundary may hold `'()+_,-./:=?`; it is then quoted in the Content-Type, and the quotes are not \
                   part of it"
                .to_string(),
        });
    }
    probes
}

pub(super) fn malformed_multipart(rng: &mut Rng) -> Vec<Probe> {
    let boundary = inputs::boundary(rng);
    let content_type = format!("multipart/form-data; boundary=\"{boundary}\"");
    let good = inputs::multipart(
        rng,
        &boundary,
        &[PartSpec::field("a", "1")],
        &Framing::default(),
    );
    let cut = good[..good.len() - boundary.len() - 4].to_vec();
    let no_name = format!(
        "--{boundary}\r\nContent-Disposition: form-data; filename=\"x.txt\"\r\n\r\nhello\r\n--{boundary}--"
    );
    let no_headers = format!("--{boundary}\r\n\r\nhello\r\n--{boundary}--");
    let mut bad_utf8 =
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"t\"\r\n\r\n").into_bytes();
    bad_utf8.extend_from_slice(b"caf\xe9");
    bad_utf8.extend_from_slice(format!("\r\n--{boundary}--").as_bytes());
    let rule = |why: &str| format!("a malformed multipart body is a 400: {why}");
    vec![
        Probe::refused(
            post("/m", Some(&content_type), cut),
            400,
            &rule("this one has no close delimiter"),
        ),
        Probe::refused(
            post("/m", Some("multipart/form-data"), good.clone()),
            400,
            &rule("no boundary parameter"),
        ),
        Probe::refused(
            post("/m", Some(&content_type), "just some text"),
            400,
            &rule("no delimiter line at all"),
        ),
        Probe::refused(
            post("/m", Some(&content_type), no_name),
            400,
            &rule("a part needs a name"),
        ),
        Probe::refused(
            post("/m", Some(&content_type), no_headers),
            400,
            &rule("a part needs Content-Disposition"),
        ),
        Probe::refused(
            post("/m", Some(&content_type), bad_utf8),
            400,
            &rule("a text field must be UTF-8"),
        ),
    ]
}
