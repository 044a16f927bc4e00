//! The short stories of the `cache5_http_cdn_cache` grader, in teaching order: one rule each.

use backlings_grade::{Failure, Grading};

use super::Session;

/// `max-age`: HITs until the age reaches it, then a revalidation.
pub fn max_age(g: &mut Grading, s: &mut Session) -> Result<(), Failure> {
    s.story(
        g,
        "a response is fresh while its age is below max-age, then revalidated with its ETag",
        "a stored response is served without asking the origin while its age is below its lifetime; at \
         exactly max-age seconds it is stale, and a stale response with an ETag is revalidated with \
         If-None-Match (the origin answers 304)",
    );
    let max_age = g.rng().range(30, 120);
    s.resource(
        "/news",
        &["public", &format!("max-age={max_age}")],
        true,
        "today's news",
    );
    s.get(0, "/news", &[])?;
    s.get(1_000, "/news", &[])?;
    s.get(max_age * 1000 - 1_001, "/news", &[])?;
    s.get(1, "/news", &[])?;
    s.get(500, "/news", &[])?;
    s.get(max_age * 1000 - 1_500, "/news", &[])?;
    s.get(1_000, "/news", &[])?;
    Ok(())
}

/// `s-maxage` beats `max-age` in a shared cache.
pub fn s_maxage(g: &mut Grading, s: &mut Session) -> Result<(), Failure> {
    s.story(
        g,
        "s-maxage overrides max-age in a shared cache",
        "a CDN is a shared cache: its freshness lifetime is s-maxage when the response has one, whatever \
         max-age says (max-age is for the browser)",
    );
    let max_age = g.rng().range(5, 20);
    let s_maxage = g.rng().range(60, 300);
    s.resource(
        "/home",
        &[
            "public",
            &format!("max-age={max_age}"),
            &format!("s-maxage={s_maxage}"),
        ],
        true,
        "the home page",
    );
    s.get(0, "/home", &[])?;
    s.get(max_age * 1000, "/home", &[])?;
    s.get((s_maxage - max_age) * 1000 - 1, "/home", &[])?;
    s.get(1, "/home", &[])?;
    Ok(())
}

/// `private`, `no-store` and a response without a lifetime go to the origin every time.
pub fn not_storable(g: &mut Grading, s: &mut Session) -> Result<(), Failure> {
    s.story(
        g,
        "private, no-store and responses without a lifetime are never stored",
        "a shared cache must not store a response marked private (one user's page) or no-store, even with a \
         max-age, nor one without any freshness lifetime: each request goes to the origin",
    );
    s.resource(
        "/account",
        &["max-age=600", "private"],
        true,
        "alice's account",
    );
    s.resource("/live-score", &["no-store", "max-age=600"], false, "2 - 1");
    s.resource("/about", &["public"], false, "about us");
    for target in ["/account", "/live-score", "/about"] {
        s.get(0, target, &[])?;
        s.get(1_000, target, &[])?;
    }
    Ok(())
}

/// `no-cache` revalidates before every use; a stale response without an ETag is refetched in full.
pub fn no_cache_and_no_etag(g: &mut Grading, s: &mut Session) -> Result<(), Failure> {
    s.story(
        g,
        "no-cache means revalidate before every use; without an ETag a stale response is fetched again",
        "no-cache stores the response with a freshness lifetime of 0: every use asks the origin first \
         (If-None-Match), and a 200 instead of a 304 replaces it; a stale response without an ETag cannot \
         be revalidated and is fetched again in full",
    );
    s.resource("/feed", &["no-cache"], true, "feed, version 1");
    s.get(0, "/feed", &[])?;
    s.get(1, "/feed", &[])?;
    s.get(2_000, "/feed", &[])?;
    s.origin.deploy("/feed", "feed, version 2".to_string());
    s.get(1, "/feed", &[])?;
    s.get(1, "/feed", &[])?;

    let max_age = g.rng().range(3, 9);
    s.resource(
        "/legacy",
        &[&format!("max-age={max_age}")],
        false,
        "an old page with no ETag",
    );
    s.get(0, "/legacy", &[])?;
    s.get(max_age * 1000 - 1, "/legacy", &[])?;
    s.get(1, "/legacy", &[])?;
    s.get(1_000, "/legacy", &[])?;
    Ok(())
}

/// One stored variant per value of the header `Vary` names.
pub fn vary(g: &mut Grading, s: &mut Session) -> Result<(), Failure> {
    s.story(
        g,
        "Vary: one stored variant per value of the header it names",
        "the origin answers Vary: Accept-Language: the English and the French page share a URL, and the cache \
         must store one variant per Accept-Language value (no header at all is a value of its own) and serve \
         each only to requests with that value",
    );
    s.resource_varying(
        "/greeting",
        &["max-age=300"],
        true,
        "welcome",
        Some("Accept-Language"),
    );
    s.get(0, "/greeting", &[("Accept-Language", "en")])?;
    s.get(10, "/greeting", &[("Accept-Language", "fr")])?;
    s.get(10, "/greeting", &[("Accept-Language", "en")])?;
    s.get(10, "/greeting", &[("Accept-Language", "fr")])?;
    s.get(10, "/greeting", &[])?;
    s.get(10, "/greeting", &[])?;
    s.get(10, "/greeting", &[("accept-language", "fr")])?;
    s.get(1_000, "/greeting", &[("Accept-Language", "de")])?;
    Ok(())
}

/// The key is the whole target; hashed asset URLs bust the cache, the HTML that names them needs a purge.
pub fn query_and_hashed_assets(g: &mut Grading, s: &mut Session) -> Result<(), Failure> {
    s.story(
        g,
        "cache busting: the key is the whole target, query string included, and a new asset hash is a new URL",
        "the cache key is the whole request target: /styles.css?v=2 is not /styles.css?v=1, and \
         /assets/app.<new hash>.js is fetched fresh after a deploy while the old hash stays cached",
    );
    let year = "max-age=31536000";
    s.resource(
        "/styles.css?v=1",
        &["public", year, "immutable"],
        true,
        "css v1",
    );
    s.resource(
        "/styles.css?v=2",
        &["public", year, "immutable"],
        true,
        "css v2",
    );
    s.resource("/styles.css", &["public", year], true, "css, unversioned");
    s.get(0, "/styles.css?v=1", &[])?;
    s.get(10, "/styles.css?v=1", &[])?;
    s.get(10, "/styles.css?v=2", &[])?;
    s.get(10, "/styles.css", &[])?;
    s.get(10, "/styles.css?v=2", &[])?;

    let old = format!("{:08x}", g.rng().next_u64() as u32);
    let new = format!("{:08x}", g.rng().next_u64() as u32);
    let (old_asset, new_asset) = (
        format!("/assets/app.{old}.js"),
        format!("/assets/app.{new}.js"),
    );
    s.resource(
        &old_asset,
        &["public", year, "immutable"],
        true,
        "app, old build",
    );
    s.resource(
        "/index.html",
        &["public", "max-age=300"],
        true,
        &format!("<script src={old_asset}>"),
    );
    s.get(0, "/index.html", &[])?;
    s.get(0, &old_asset, &[])?;
    // The deploy: a new asset under a new name, and the page now points at it.
    s.resource(
        &new_asset,
        &["public", year, "immutable"],
        true,
        "app, new build",
    );
    s.origin
        .deploy("/index.html", format!("<script src={new_asset}>"));
    s.get(1_000, "/index.html", &[])?;
    s.purge("/index.html")?;
    s.get(10, "/index.html", &[])?;
    s.get(10, &new_asset, &[])?;
    s.get(10, &old_asset, &[])?;
    s.get(10, &new_asset, &[])?;
    Ok(())
}

/// `PURGE` drops every variant at once.
pub fn purge(g: &mut Grading, s: &mut Session) -> Result<(), Failure> {
    s.story(
        g,
        "PURGE removes every variant of a URL",
        "PURGE /path removes every stored variant of that target (each Accept-Language), answers `purged N`, \
         and the next request goes to the origin",
    );
    s.resource_varying(
        "/menu",
        &["public", "s-maxage=600"],
        true,
        "today's menu",
        Some("Accept-Language"),
    );
    s.get(0, "/menu", &[("Accept-Language", "en")])?;
    s.get(10, "/menu", &[("Accept-Language", "fr")])?;
    s.get(10, "/menu", &[])?;
    s.origin.deploy("/menu", "tomorrow's menu".to_string());
    s.get(10, "/menu", &[("Accept-Language", "fr")])?;
    s.purge("/menu")?;
    s.get(10, "/menu", &[("Accept-Language", "fr")])?;
    s.get(10, "/menu", &[("Accept-Language", "en")])?;
    s.purge("/never-cached")?;
    s.get(10, "/menu", &[("Accept-Language", "en")])?;
    Ok(())
}

/// A client's `If-None-Match` that matches gets a 304, and never reaches the origin.
pub fn client_conditionals(g: &mut Grading, s: &mut Session) -> Result<(), Failure> {
    s.story(
        g,
        "a client whose If-None-Match matches the ETag gets 304 Not Modified",
        "a browser that already holds the response sends If-None-Match: <etag>; when it equals the ETag of \
         the response the cache would send, the answer is 304 with no body. The client's If-None-Match is \
         about its own copy and is never passed on to the origin",
    );
    s.resource("/avatar.png", &["public", "max-age=600"], true, "a picture");
    let etag = s
        .origin
        .resources()
        .answer("/avatar.png", &[])
        .header("etag")
        .map(str::to_string)
        .unwrap_or_default();
    s.get(0, "/avatar.png", &[("If-None-Match", &etag)])?;
    s.get(10, "/avatar.png", &[])?;
    s.get(10, "/avatar.png", &[("If-None-Match", &etag)])?;
    s.get(
        10,
        "/avatar.png",
        &[("If-None-Match", "\"0123456789abcdef\"")],
    )?;
    Ok(())
}
