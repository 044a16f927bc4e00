//! The contract as a model: what one API call must get (401, 403, 429 or 200 with its quota headers), the
//! count of every key's requests in each minute of the clock, and the words a broken rule is reported in.

use std::collections::BTreeMap;

use backlings_grade::Failure;
use backlings_grade::http::Response;
use serde_json::json;

use super::api::{Key, Presented, WINDOW_MS};
use crate::support::compact;

/// What the contract says one call gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expected {
    /// 401 `missing api key`.
    Missing,
    /// 401 `invalid api key`: malformed, unknown, wrong or revoked.
    Invalid,
    /// 403 `insufficient scope`.
    Forbidden,
    /// 429, with the seconds until the minute ends.
    OverQuota { reset_s: u64 },
    /// 200, with what is left of the quota and the seconds until the minute ends.
    Served { remaining: u64, reset_s: u64 },
}

/// The quotas of the two tiers, and what every key has used of them.
pub struct Model {
    free_per_minute: u64,
    pro_per_minute: u64,
    /// Requests counted per key id: (window, used).
    usage: BTreeMap<String, (u64, u64)>,
    /// The tier and owner of every key the model has counted, by id.
    whose: BTreeMap<String, (&'static str, String)>,
    /// Requests of a key refused with 403 and with 429, per key id and window.
    refused: BTreeMap<(String, u64), (u64, u64)>,
}

impl Model {
    /// A model with these quotas and nothing counted yet.
    pub fn new(free_per_minute: u64, pro_per_minute: u64) -> Self {
        Model {
            free_per_minute,
            pro_per_minute,
            usage: BTreeMap::new(),
            whose: BTreeMap::new(),
            refused: BTreeMap::new(),
        }
    }

    /// The quota of `tier`.
    pub fn limit(&self, tier: &str) -> u64 {
        if tier == "pro" {
            self.pro_per_minute
        } else {
            self.free_per_minute
        }
    }

    /// Requests of the key `id` refused in `window`: (with 403, with 429).
    fn refused_in(&self, id: &str, window: u64) -> (u64, u64) {
        self.refused
            .get(&(id.to_string(), window))
            .copied()
            .unwrap_or_default()
    }

    /// The report for a wrong `RateLimit-*` or `Retry-After` header of a call with `key` at `now` (`request`
    /// says which call, in words).
    #[allow(clippy::too_many_arguments)]
    pub fn header_failure(
        &self,
        name: &str,
        value: &str,
        response: &Response,
        key: &Key,
        now: u64,
        used_before: u64,
        request: String,
    ) -> Failure {
        let window = now / WINDOW_MS;
        let limit = self.limit(key.tier);
        let mut failure = Failure::new(header_rule(name, key.tier, limit, used_before))
            .expected(format!("{name}: {value}"))
            .got(format!(
                "{name}: {}",
                response.header(name).unwrap_or("(none)")
            ))
            .detail(request)
            .detail(format!(
                "this minute of the clock is [{}, {})",
                window * WINDOW_MS,
                (window + 1) * WINDOW_MS
            ));
        if name != "RateLimit-Remaining" {
            return failure;
        }
        let (forbidden, over) = self.refused_in(&key.id, window);
        if forbidden + over > 0 {
            failure = failure.detail(format!(
                "in this minute the key also made {forbidden} requests refused with 403 and {over} refused with \
                 429: a refused request did no work and counts nothing"
            ));
        }
        let (others, same_owner) = self.others_in_window(key, window);
        if others > 0 {
            failure = failure.detail(format!(
                "in this minute other {} keys made {others} counted requests ({same_owner} of them keys of the \
                 same owner): they have quotas of their own",
                key.tier
            ));
        }
        failure
    }

    /// Requests counted in `window` for other keys of `key`'s tier, and how many of them for its owner's.
    fn others_in_window(&self, key: &Key, window: u64) -> (u64, u64) {
        let mut counts = (0, 0);
        for (id, (seen_window, used)) in &self.usage {
            let Some((tier, owner)) = self.whose.get(id) else {
                continue;
            };
            if id != &key.id && *seen_window == window && *tier == key.tier {
                counts.0 += used;
                if *owner == key.owner {
                    counts.1 += used;
                }
            }
        }
        counts
    }

    /// What the contract says about one call, updating the quota model; and how many requests the key had
    /// used in this window before it.
    pub fn expect(&mut self, presented: &Presented, scope: &str, now: u64) -> (Expected, u64) {
        let window = now / WINDOW_MS;
        let key = match presented {
            Presented::Nothing => return (Expected::Missing, 0),
            Presented::Bogus(..) => return (Expected::Invalid, 0),
            Presented::Key(key) if key.revoked => return (Expected::Invalid, 0),
            Presented::Key(key) if !key.grants(scope) => {
                self.refused.entry((key.id.clone(), window)).or_default().0 += 1;
                return (Expected::Forbidden, 0);
            }
            Presented::Key(key) => key,
        };
        let limit = self.limit(key.tier);
        let reset_s = ((window + 1) * WINDOW_MS - now).div_ceil(1000);
        self.whose
            .insert(key.id.clone(), (key.tier, key.owner.clone()));
        let usage = self.usage.entry(key.id.clone()).or_insert((window, 0));
        if window > usage.0 {
            *usage = (window, 0);
        }
        let before = usage.1;
        if usage.1 >= limit {
            self.refused.entry((key.id.clone(), window)).or_default().1 += 1;
            return (Expected::OverQuota { reset_s }, before);
        }
        usage.1 += 1;
        (
            Expected::Served {
                remaining: limit - usage.1,
                reset_s,
            },
            before,
        )
    }

    /// The rule a wrong status or body broke, in words.
    pub fn rule(
        &self,
        expected: &Expected,
        presented: &Presented,
        scope: &str,
        now: u64,
        used_before: u64,
        response: &Response,
    ) -> Failure {
        let window = format!(
            "[{}, {})",
            now / WINDOW_MS * WINDOW_MS,
            (now / WINDOW_MS + 1) * WINDOW_MS
        );
        match (expected, presented) {
            (Expected::Missing, _) => Failure::new(
                "a request without an X-Api-Key header gets 401 {\"error\":\"missing api key\"}",
            ),
            (Expected::Invalid, Presented::Key(_)) => Failure::new(
                "a revoked key is refused from the next request on, with 401 {\"error\":\"invalid api key\"} \
                 (before any scope or quota check)",
            ),
            (Expected::Invalid, _) => Failure::new(format!(
                "{} must be refused with 401 {{\"error\":\"invalid api key\"}}: the very same answer for a \
                 malformed key, an unknown id, a wrong secret and a revoked key (a different answer tells an \
                 attacker what they got right)",
                describe(presented)
            )),
            (Expected::Forbidden, Presented::Key(key)) => {
                let mut failure = Failure::new(format!(
                    "a key without the scope `{scope}` gets 403 {{\"error\":\"insufficient scope\",\"required\":\
                     \"{scope}\"}}: write:R includes read:R and nothing else, and 403 (not 401) means \"we know who \
                     you are, and you may not do this\""
                ))
                .detail(format!("the key holds {}", compact(&json!(key.scopes))));
                if response.status == 429 {
                    failure = failure.detail(
                        "the scope is checked before the quota: a request refused with 403 did no work and \
                         counts nothing",
                    );
                }
                failure
            }
            (Expected::OverQuota { .. }, Presented::Key(key)) => Failure::new(format!(
                "the key has used all {} requests of its {} quota in the minute {window}: the next request in that \
                 minute gets 429 {{\"error\":\"quota exceeded\"}} with Retry-After",
                self.limit(key.tier),
                key.tier
            )),
            (Expected::Served { .. }, Presented::Key(key)) => match response.status {
                401 => Failure::new(
                    "a valid key (exactly as issued, not revoked) authenticates: it is found by its id and its \
                     SHA-256 matches the stored hash",
                ),
                403 => Failure::new(format!(
                    "a key holding {} may call a route that needs `{scope}` (write:R includes read:R)",
                    compact(&json!(key.scopes))
                )),
                429 => Failure::new(format!(
                    "a request within the key's quota is served: the key had used {used_before} of its {} requests \
                     in the minute {window}. Each key has its own quota, the windows are the fixed minutes of \
                     X-Fake-Now, and only requests that pass the key and scope checks count",
                    self.limit(key.tier)
                )),
                _ => Failure::new(
                    "a request with a valid key and the right scope, within its quota, is served as that key: 200 \
                     {\"route\":…,\"key\":<its id>,\"owner\":<its owner>}",
                ),
            },
            _ => Failure::new("the answer follows the contract's order of checks"),
        }
    }
}

/// What a wrong `RateLimit-*` or `Retry-After` header breaks, in words.
fn header_rule(name: &str, tier: &str, limit: u64, used_before: u64) -> String {
    match name {
        "RateLimit-Limit" => format!("RateLimit-Limit is the requests a minute of the key's tier ({tier})"),
        "RateLimit-Remaining" => format!(
            "RateLimit-Remaining is what is left of this key's quota in this minute of the clock after this \
             request: the key had used {used_before} of its {limit} before it. Each key has its own quota, and \
             only requests that pass the key and scope checks count"
        ),
        "RateLimit-Reset" => "RateLimit-Reset is the seconds until this minute of the clock ends, rounded up: the \
                              windows are the fixed minutes [k·60000, (k+1)·60000) of X-Fake-Now, not a minute \
                              from the key's first request"
            .to_string(),
        _ => "a 429 carries Retry-After: the seconds until this minute of the clock ends, rounded up (the same as \
              RateLimit-Reset)"
            .to_string(),
    }
}

/// A presented key in words, for the report.
pub fn describe(presented: &Presented) -> String {
    match presented {
        Presented::Nothing => "no X-Api-Key header".to_string(),
        Presented::Key(key) => format!(
            "the {}key {}… of `{}` ({}, scopes {})",
            if key.revoked { "revoked " } else { "" },
            &key.key[..12],
            key.owner,
            key.tier,
            compact(&json!(key.scopes))
        ),
        Presented::Bogus(_, what) => what.to_string(),
    }
}
