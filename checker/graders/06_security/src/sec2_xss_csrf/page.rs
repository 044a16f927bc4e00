//! Reads a profile page the way a browser's tokenizer does (html5gum, a WHATWG-compliant tokenizer) and checks
//! that every stored string came back as text in its context and that the markup is exactly the template's.

use std::collections::BTreeSet;

use backlings_grade::Failure;
use html5gum::{DefaultEmitter, Token, Tokenizer};

/// The start tags of the template, in order, each with the attributes it may carry.
const TEMPLATE: [(&str, &[&str]); 16] = [
    ("html", &["lang"]),
    ("head", &[]),
    ("meta", &["charset"]),
    ("title", &[]),
    ("body", &[]),
    ("h1", &["id"]),
    ("p", &["id", "title"]),
    ("a", &["id", "href"]),
    ("p", &["id"]),
    ("script", &["nonce"]),
    ("form", &["method", "action"]),
    ("input", &["type", "name", "value"]),
    ("input", &["name", "value"]),
    ("input", &["name", "value"]),
    ("input", &["name", "value"]),
    ("button", &["type"]),
];
const SCRIPT_PREFIX: &str = "const displayName = ";
const SCRIPT_SUFFIX: &str =
    ";\ndocument.getElementById(\"greeting\").textContent = \"Hello, \" + displayName;";

/// What the grader stored, and so expects to read back.
#[derive(Debug, Clone)]
pub struct Expected {
    pub name: String,
    pub bio: String,
    pub website: String,
    /// What the link must point to: the website, or `#` when its scheme is not allowed.
    pub href: String,
    pub csrf_token: String,
}

/// One start tag as the browser sees it.
#[derive(Debug)]
struct Tag {
    name: String,
    attributes: Vec<(String, String)>,
    duplicate_attribute: bool,
}

impl Tag {
    fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The tags, the text inside `<h1>` and the text of the script, as a browser would read them.
struct Parsed {
    tags: Vec<Tag>,
    h1_text: String,
    script_text: String,
}

fn parse(html: &str) -> Parsed {
    let mut emitter = DefaultEmitter::default();
    emitter.naively_switch_states(true);
    let mut parsed = Parsed {
        tags: Vec::new(),
        h1_text: String::new(),
        script_text: String::new(),
    };
    let mut inside: Option<String> = None;
    for token in Tokenizer::new_with_emitter(html, emitter).flatten() {
        match token {
            Token::StartTag(tag) => {
                let name = text(&tag.name);
                if name == "h1" || name == "script" {
                    inside = Some(name.clone());
                }
                parsed.tags.push(Tag {
                    name,
                    attributes: tag
                        .attributes
                        .iter()
                        .map(|(n, v)| (text(n), text(&v.value)))
                        .collect(),
                    duplicate_attribute: false,
                });
            }
            Token::EndTag(tag) if inside.as_deref() == Some(text(&tag.name).as_str()) => {
                inside = None;
            }
            Token::String(s) => match inside.as_deref() {
                Some("h1") => parsed.h1_text.push_str(&text(&s.value)),
                Some("script") => parsed.script_text.push_str(&text(&s.value)),
                _ => {}
            },
            Token::Error(e) if matches!(e.value, html5gum::Error::DuplicateAttribute) => {
                if let Some(last) = parsed.tags.last_mut() {
                    last.duplicate_attribute = true;
                }
            }
            _ => {}
        }
    }
    parsed
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Checks one page and its `Content-Security-Policy`; `nonces` holds every nonce seen so far in this run.
pub fn check(
    html: &str,
    csp: Option<&str>,
    expected: &Expected,
    nonces: &mut BTreeSet<String>,
) -> Result<(), Failure> {
    let parsed = parse(html);
    check_markup(&parsed)?;
    let tags = &parsed.tags;
    let fields = [
        (
            parsed.h1_text.as_str(),
            &expected.name,
            "the name in HTML text (`<h1>`)",
        ),
        (
            tags[6].attribute("title").unwrap_or_default(),
            &expected.bio,
            "the bio in a quoted attribute (`<p title=\"…\">`)",
        ),
        (
            tags[12].attribute("value").unwrap_or_default(),
            &expected.name,
            "the name in a quoted attribute (`<input name=\"name\" value=\"…\">`)",
        ),
        (
            tags[13].attribute("value").unwrap_or_default(),
            &expected.bio,
            "the bio in a quoted attribute (`<input name=\"bio\" value=\"…\">`)",
        ),
        (
            tags[14].attribute("value").unwrap_or_default(),
            &expected.website,
            "the website in a quoted attribute (`<input name=\"website\" value=\"…\">`)",
        ),
    ];
    for (got, wanted, place) in fields {
        if got != wanted.as_str() {
            return Err(Failure::new(format!(
                "escaped text must decode back to exactly what was stored: {place} reads differently in the \
                 browser (escape each special character once; drop nothing, decode nothing)"
            ))
            .expected(format!("{wanted:?}"))
            .got(format!("{got:?}")));
        }
    }
    let href = tags[7].attribute("href").unwrap_or_default();
    if href != expected.href {
        let why = if expected.href == "#" {
            "this URL is not http(s) or a site-relative path, so the link becomes `#`"
        } else {
            "this URL is an allowed http(s) URL or site-relative path, so the link keeps it exactly"
        };
        return Err(Failure::new(format!(
            "a link's URL must be an http:// or https:// URL (any case) or a site-relative path starting \
             with a single `/`; anything else becomes `#`, because `javascript:` and `data:` links run code: \
             {why}"
        ))
        .expected(format!("href {:?}", expected.href))
        .got(format!("href {href:?}"))
        .detail(format!("the stored website: {:?}", expected.website)));
    }
    if tags[11].attribute("value") != Some(expected.csrf_token.as_str()) {
        return Err(Failure::new(
            "the form carries the session's CSRF token in its hidden `csrf` field (the same value as the \
             `csrf` cookie)",
        )
        .expected(format!("{:?}", expected.csrf_token))
        .got(format!("{:?}", tags[11].attribute("value"))));
    }
    check_script(&parsed.script_text, &expected.name)?;
    check_nonce(tags[9].attribute("nonce").unwrap_or_default(), csp, nonces)
}

fn check_markup(parsed: &Parsed) -> Result<(), Failure> {
    let names: Vec<&str> = parsed.tags.iter().map(|t| t.name.as_str()).collect();
    let template: Vec<&str> = TEMPLATE.iter().map(|(n, _)| *n).collect();
    if names != template {
        let at = names
            .iter()
            .zip(&template)
            .position(|(a, b)| a != b)
            .unwrap_or(names.len().min(template.len()));
        let what = match names.get(at) {
            Some(extra) => format!("a `<{extra}>` element the template does not have"),
            None if names.last() == Some(&"script") => "no elements after the script: the script's string \
                 literal opened an HTML comment or a script (`<!--`, `<script`) inside the script element, \
                 which then swallowed the rest of the page"
                .to_string(),
            None => "fewer elements than the template (a tag was swallowed)".to_string(),
        };
        return Err(Failure::new(format!(
            "hostile input became markup: the page has {what}, so a browser would build (and possibly run) \
             what the user typed"
        ))
        .expected(format!("start tags {template:?}"))
        .got(format!("start tags {names:?}")));
    }
    for (tag, (_, allowed)) in parsed.tags.iter().zip(TEMPLATE) {
        let extra: Vec<&str> = tag
            .attributes
            .iter()
            .map(|(n, _)| n.as_str())
            .filter(|n| !allowed.contains(n))
            .collect();
        if !extra.is_empty() || tag.duplicate_attribute {
            return Err(Failure::new(format!(
                "hostile input became markup: `<{}>` has an attribute the template does not have (a quote \
                 ended the attribute value, and the rest became new attributes such as event handlers)",
                tag.name
            ))
            .expected(format!("attributes {allowed:?}"))
            .got(format!("attributes {:?}", tag.attributes)));
        }
    }
    Ok(())
}

fn check_script(script: &str, name: &str) -> Result<(), Failure> {
    let literal = script
        .strip_prefix(SCRIPT_PREFIX)
        .and_then(|rest| rest.strip_suffix(SCRIPT_SUFFIX));
    let rule = "the name in the script is one JavaScript string literal (JSON) that decodes to the stored name, \
                with `<`, `>`, `&`, U+2028 and U+2029 written as \\u escapes, so that `</script>` or `<!--` \
                can never end or confuse the script element";
    let Some(literal) = literal else {
        return Err(Failure::new(format!(
            "{rule}; here the script element's text is not the template's (the string literal ended the \
             script, or broke out of its quotes)"
        ))
        .expected(format!("{SCRIPT_PREFIX}<string literal>{SCRIPT_SUFFIX}"))
        .got(format!("{script:?}")));
    };
    if let Some(raw) = literal
        .chars()
        .find(|c| matches!(c, '<' | '>' | '&' | '\u{2028}' | '\u{2029}'))
    {
        return Err(
            Failure::new(format!("{rule}; here a raw {raw:?} is inside the literal"))
                .got(literal.to_string()),
        );
    }
    match serde_json::from_str::<String>(literal) {
        Ok(decoded) if decoded == name => Ok(()),
        Ok(decoded) => Err(
            Failure::new(format!("{rule}; here it decodes to another string"))
                .expected(format!("{name:?}"))
                .got(format!("{decoded:?} from {literal}")),
        ),
        Err(e) => Err(Failure::new(format!(
            "{rule}; here it is not a JSON string literal ({e})"
        ))
        .got(literal.to_string())),
    }
}

fn check_nonce(
    nonce: &str,
    csp: Option<&str>,
    nonces: &mut BTreeSet<String>,
) -> Result<(), Failure> {
    let rule = "every response carries `Content-Security-Policy` with `script-src 'nonce-N'` (and no \
                'unsafe-inline'), where N is a fresh nonce per response, at least 16 random bytes (22+ \
                characters of base64 or 32+ of hex), and the page's one script carries `nonce=\"N\"`";
    let Some(csp) = csp else {
        return Err(Failure::new(rule).got("no Content-Security-Policy header"));
    };
    let script_src = csp
        .split(';')
        .map(str::trim)
        .find(|d| d.starts_with("script-src"))
        .unwrap_or_default();
    let sources: Vec<&str> = script_src.split_whitespace().skip(1).collect();
    let wanted = format!("'nonce-{nonce}'");
    let well_formed = nonce.len() >= 22
        && nonce
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+/=_-".contains(&b));
    if !well_formed || !sources.contains(&wanted.as_str()) {
        return Err(Failure::new(rule)
            .expected(format!("script-src {wanted} (a nonce of 22+ characters)"))
            .got(format!("policy {csp:?}, script nonce {nonce:?}")));
    }
    if let Some(bad) = sources.iter().find(|s| {
        matches!(
            **s,
            "'unsafe-inline'" | "'unsafe-eval'" | "*" | "http:" | "https:" | "data:"
        )
    }) {
        return Err(Failure::new(rule).got(format!(
            "script-src also allows {bad}: an injected script would run"
        )));
    }
    if !nonces.insert(nonce.to_string()) {
        return Err(Failure::new(format!(
            "{rule}; this nonce was already used by an earlier response: a fresh nonce per response, or it \
             is a password every visitor has seen"
        ))
        .got(format!("nonce {nonce:?} again")));
    }
    Ok(())
}
