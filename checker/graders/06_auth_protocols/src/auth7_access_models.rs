//! Grader of `auth7_access_models`: an RBAC, an ABAC and a ReBAC (Zanzibar-style) engine over JSON lines.
//!
//! Every check is compared with a reference written differently from the expected solution: RBAC and ReBAC
//! answers come from a least fixpoint over the whole graph (not a depth-first search), ABAC from the policy
//! table. Scenarios aim at the usual holes (inheritance followed one level, folder permissions that do not
//! reach documents, nested groups, cycles, business-hour boundaries, 401 vs 403), then seeded random worlds
//! are checked against the reference. A failure explains the chain of tuples that grants the access, or says
//! that none exists.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use backlings_grade::{Failure, Grading, Rng, Stdio};
use serde_json::{Value, json};

const DAY: u64 = 86_400_000;
const HOUR: u64 = 3_600_000;
/// 2024-01-01 00:00:00 UTC, a Monday.
const MONDAY: u64 = 1_704_067_200_000;

/// Grades one program: every scenario must pass.
pub fn grade(g: &mut Grading) -> Result<(), Failure> {
    // Every answer is a lookup: a program silent for 2 s is looping (a cycle without a visited set).
    g.set_reply_timeout(Duration::from_secs(2));
    let mut p = g.stdio()?;
    let mut rng = g.rng().fork(7);

    g.scenario("401 without a user, 403 for a user without the right, in all three engines");
    status_codes(&mut p)?;

    let mut rbac = RbacModel::default();
    g.scenario("RBAC: permissions are inherited through the whole role hierarchy");
    rbac.hierarchy(&mut p, &mut rng)?;
    g.scenario("RBAC: a cycle in the role hierarchy terminates");
    rbac.cycle(&mut p, &mut rng)?;
    g.scenario("RBAC: unassign and redefine take effect at once");
    rbac.changes(&mut p, &mut rng)?;

    g.scenario("ABAC: the denials come first, then the grants, and deny by default");
    abac_rules(&mut p, &mut rng)?;
    g.scenario("ABAC: business hours are Monday to Friday, 09:00 to 17:59:59.999 UTC");
    abac_hours(&mut p, &mut rng)?;
    g.scenario("ABAC: seeded random requests against the policy");
    abac_random(&mut p, &mut rng)?;

    let mut rebac = RebacModel::default();
    g.scenario(
        "ReBAC: a folder's viewers and editors reach the documents in it, through nested folders",
    );
    rebac.folders(&mut p, &mut rng)?;
    g.scenario("ReBAC: nested groups, and editors are viewers");
    rebac.groups(&mut p, &mut rng)?;
    g.scenario("ReBAC: a cycle of groups or folders terminates and grants nothing extra");
    rebac.cycles(&mut p, &mut rng)?;
    g.scenario("ReBAC: deleting a tuple takes the access away");
    rebac.deletion(&mut p, &mut rng)?;
    for round in 1..=3 {
        g.scenario(&format!(
            "ReBAC: seeded random graph {round} of 3 against the reference"
        ));
        let mut model = RebacModel::default();
        model.random(&mut p, &mut rng, round)?;
    }
    Ok(())
}

fn ask(
    p: &mut Stdio,
    request: &Value,
    expected: u16,
    rule: &str,
    why: &str,
) -> Result<(), Failure> {
    let got = p.request(request)?;
    let want = json!({ "status": expected });
    if got != want {
        return Err(Failure::new(rule)
            .expected(want.to_string())
            .got(got.to_string())
            .detail(why.to_string()));
    }
    Ok(())
}

fn ok(p: &mut Stdio, request: &Value) -> Result<(), Failure> {
    p.expect(
        request,
        &json!({"ok": true}),
        "definitions and tuples are acknowledged with {\"ok\":true}",
    )?;
    Ok(())
}

fn status_codes(p: &mut Stdio) -> Result<(), Failure> {
    let rule401 = "a request with nobody logged in (user null) is 401 Unauthorized: the client should \
                   authenticate and try again";
    let rule403 =
        "a logged-in user without the right is 403 Forbidden (authenticated, not allowed), not 401";
    ok(
        p,
        &json!({"op": "define_role", "role": "s-viewer", "permissions": ["s.read"], "inherits": []}),
    )?;
    ok(
        p,
        &json!({"op": "assign", "user": "s-ada", "role": "s-viewer"}),
    )?;
    ask(
        p,
        &json!({"op": "rbac_check", "user": null, "permission": "s.read"}),
        401,
        rule401,
        "RBAC",
    )?;
    ask(
        p,
        &json!({"op": "rbac_check", "user": "s-ada", "permission": "s.write"}),
        403,
        rule403,
        "RBAC: s-ada has only s.read",
    )?;
    ask(
        p,
        &json!({"op": "rbac_check", "user": "s-nobody", "permission": "s.read"}),
        403,
        rule403,
        "RBAC: s-nobody has no role",
    )?;
    let resource =
        json!({"owner": "s-ada", "department": "eng", "classification": 0, "region": "eu"});
    let env = json!({"now_ms": MONDAY + 12 * HOUR, "region": "eu"});
    ask(
        p,
        &json!({"op": "abac_check", "subject": null, "action": "read", "resource": resource, "env": env}),
        401,
        rule401,
        "ABAC",
    )?;
    let stranger = json!({"id": "s-bob", "department": "sales", "clearance": 3, "region": "eu"});
    ask(
        p,
        &json!({"op": "abac_check", "subject": stranger, "action": "read", "resource": resource, "env": env}),
        403,
        rule403,
        "ABAC: s-bob is neither the owner nor of the department",
    )?;
    ok(
        p,
        &json!({"op": "write", "tuple": "doc:s-memo#viewer@user:s-ada"}),
    )?;
    ask(
        p,
        &json!({"op": "check", "user": null, "relation": "viewer", "object": "doc:s-memo"}),
        401,
        rule401,
        "ReBAC",
    )?;
    ask(
        p,
        &json!({"op": "check", "user": "s-bob", "relation": "viewer", "object": "doc:s-memo"}),
        403,
        rule403,
        "ReBAC: no tuple names s-bob",
    )?;
    ask(
        p,
        &json!({"op": "check", "user": "s-ada", "relation": "viewer", "object": "doc:s-memo"}),
        200,
        "a direct tuple grants its relation",
        "doc:s-memo#viewer@user:s-ada",
    )
}

/// The RBAC reference: roles and assignments, answers by a fixpoint over inheritance.
#[derive(Debug, Default)]
struct RbacModel {
    roles: BTreeMap<String, (Vec<String>, Vec<String>)>,
    assignments: BTreeMap<String, BTreeSet<String>>,
}

impl RbacModel {
    fn define(
        &mut self,
        p: &mut Stdio,
        role: &str,
        permissions: &[String],
        inherits: &[String],
    ) -> Result<(), Failure> {
        self.roles
            .insert(role.to_string(), (permissions.to_vec(), inherits.to_vec()));
        ok(
            p,
            &json!({"op": "define_role", "role": role, "permissions": permissions, "inherits": inherits}),
        )
    }

    fn assign(&mut self, p: &mut Stdio, user: &str, role: &str) -> Result<(), Failure> {
        self.assignments
            .entry(user.to_string())
            .or_default()
            .insert(role.to_string());
        ok(p, &json!({"op": "assign", "user": user, "role": role}))
    }

    /// Every role `user` holds, directly or by inheritance.
    fn closure(&self, user: &str) -> BTreeSet<String> {
        let mut roles: BTreeSet<String> = self.assignments.get(user).cloned().unwrap_or_default();
        loop {
            let more: BTreeSet<String> = roles
                .iter()
                .filter_map(|r| self.roles.get(r))
                .flat_map(|(_, inherits)| inherits.iter().cloned())
                .filter(|r| !roles.contains(r))
                .collect();
            if more.is_empty() {
                return roles;
            }
            roles.extend(more);
        }
    }

    fn check(
        &self,
        p: &mut Stdio,
        user: &str,
        permission: &str,
        rule: &str,
    ) -> Result<(), Failure> {
        let roles = self.closure(user);
        let granting: Vec<&String> = roles
            .iter()
            .filter(|r| {
                self.roles
                    .get(*r)
                    .is_some_and(|(perms, _)| perms.iter().any(|x| x == permission))
            })
            .collect();
        let expected = if granting.is_empty() { 403 } else { 200 };
        let held: Vec<&String> = self
            .assignments
            .get(user)
            .map(|s| s.iter().collect())
            .unwrap_or_default();
        let hierarchy: Vec<String> = self
            .roles
            .iter()
            .map(|(name, (perms, inherits))| format!("{name} {perms:?} inherits {inherits:?}"))
            .collect();
        let why = format!(
            "{user} holds {held:?}; with inheritance: {roles:?}; roles listing {permission}: {granting:?}; the roles: {}",
            hierarchy.join("; ")
        );
        ask(
            p,
            &json!({"op": "rbac_check", "user": user, "permission": permission}),
            expected,
            rule,
            &why,
        )
    }

    fn hierarchy(&mut self, p: &mut Stdio, rng: &mut Rng) -> Result<(), Failure> {
        let rule = "a user has a permission if any role they hold, or any role it inherits from through any \
                    number of steps, lists it";
        let tag = rng.word(4);
        let depth = rng.range(4, 6) as usize;
        let names: Vec<String> = (0..depth).map(|i| format!("h{tag}-level{i}")).collect();
        let perms: Vec<String> = (0..depth)
            .map(|i| format!("perm{i}.{}", rng.word(3)))
            .collect();
        // Defined top-down, so a role may inherit from one defined later.
        for i in (0..depth).rev() {
            let inherits: Vec<String> = if i == 0 {
                vec![]
            } else {
                vec![names[i - 1].clone()]
            };
            self.define(p, &names[i], &[perms[i].clone()], &inherits)?;
        }
        // A diamond: side-a and side-b both inherit level0; top inherits both and an undefined role.
        let side_a = format!("h{tag}-side-a");
        let side_b = format!("h{tag}-side-b");
        let top = format!("h{tag}-top");
        self.define(p, &side_a, &["side.a".to_string()], &[names[0].clone()])?;
        self.define(
            p,
            &side_b,
            &["side.b".to_string()],
            &[names[depth - 1].clone()],
        )?;
        self.define(
            p,
            &top,
            &[],
            &[side_a.clone(), side_b.clone(), format!("h{tag}-undefined")],
        )?;
        let users: Vec<String> = (0..4).map(|i| format!("h{tag}-user{i}")).collect();
        self.assign(p, &users[0], &names[depth - 1])?;
        self.assign(
            p,
            &users[1],
            &names[rng.range(1, depth as u64 - 2) as usize],
        )?;
        self.assign(p, &users[2], &top)?;
        self.assign(p, &users[3], &side_a)?;
        let mut all: Vec<String> = perms.clone();
        all.extend([
            "side.a".to_string(),
            "side.b".to_string(),
            "nobody.has.this".to_string(),
        ]);
        for user in &users {
            for perm in &all {
                self.check(p, user, perm, rule)?;
            }
        }
        Ok(())
    }

    fn cycle(&mut self, p: &mut Stdio, rng: &mut Rng) -> Result<(), Failure> {
        let rule = "a cycle in the role hierarchy (a inherits b inherits … inherits a) must terminate: every \
                    role of the cycle has every permission of the cycle, and nothing else";
        let tag = rng.word(4);
        let n = rng.range(2, 4) as usize;
        let names: Vec<String> = (0..n).map(|i| format!("c{tag}-{i}")).collect();
        for i in 0..n {
            self.define(
                p,
                &names[i],
                &[format!("cycle{i}")],
                &[names[(i + 1) % n].clone()],
            )?;
        }
        let user = format!("c{tag}-user");
        self.assign(p, &user, &names[rng.below(n as u64) as usize])?;
        for i in 0..n {
            self.check(p, &user, &format!("cycle{i}"), rule)?;
        }
        self.check(p, &user, "not.in.the.cycle", rule)
    }

    fn changes(&mut self, p: &mut Stdio, rng: &mut Rng) -> Result<(), Failure> {
        let rule = "permissions are computed at check time: after unassign, or after a role is redefined \
                    without a permission, the permission is gone";
        let tag = rng.word(4);
        let (base, mid) = (format!("u{tag}-base"), format!("u{tag}-mid"));
        self.define(p, &base, &["report.read".to_string()], &[])?;
        self.define(
            p,
            &mid,
            &["report.write".to_string()],
            std::slice::from_ref(&base),
        )?;
        let user = format!("u{tag}-ada");
        self.assign(p, &user, &mid)?;
        self.check(p, &user, "report.read", rule)?;
        self.define(p, &base, &["report.export".to_string()], &[])?;
        self.check(p, &user, "report.read", rule)?;
        self.check(p, &user, "report.export", rule)?;
        self.assignments
            .entry(user.clone())
            .or_default()
            .remove(&mid);
        ok(p, &json!({"op": "unassign", "user": user, "role": mid}))?;
        self.check(p, &user, "report.write", rule)?;
        self.check(p, &user, "report.export", rule)
    }
}

/// One ABAC request.
#[derive(Debug, Clone)]
struct AbacCase {
    id: String,
    department: String,
    clearance: u64,
    region: String,
    action: String,
    owner: String,
    resource_department: String,
    classification: u64,
    resource_region: String,
    now_ms: u64,
    env_region: String,
}

impl AbacCase {
    fn base(rng: &mut Rng) -> AbacCase {
        let noon = MONDAY + rng.below(52) * 7 * DAY + rng.below(5) * DAY + 12 * HOUR;
        AbacCase {
            id: "ada".into(),
            department: "eng".into(),
            clearance: 2,
            region: "eu".into(),
            action: "read".into(),
            owner: "ada".into(),
            resource_department: "eng".into(),
            classification: 2,
            resource_region: "eu".into(),
            now_ms: noon,
            env_region: "eu".into(),
        }
    }

    fn business_hours(now_ms: u64) -> bool {
        let weekday = (now_ms / DAY + 3) % 7;
        let hour = now_ms % DAY / HOUR;
        weekday <= 4 && (9..=17).contains(&hour)
    }

    /// The policy, and in words why.
    fn decide(&self) -> (bool, String) {
        if self.env_region != self.resource_region {
            return (
                false,
                format!(
                    "denied: the request comes from {} and the resource lives in {} (data residency)",
                    self.env_region, self.resource_region
                ),
            );
        }
        if self.clearance < self.classification {
            return (
                false,
                format!(
                    "denied: clearance {} is below the classification {}",
                    self.clearance, self.classification
                ),
            );
        }
        let owner = self.id == self.owner;
        let colleague = self.department == self.resource_department;
        let hours = Self::business_hours(self.now_ms);
        match self.action.as_str() {
            "read" if owner || colleague => (true, "read is granted to the owner and to the resource's department".into()),
            "write" if owner => (true, "write is granted to the owner at any time".into()),
            "write" if colleague && hours => (true, "write is granted to the department during business hours".into()),
            "write" if colleague => (false, "denied: the department may write only during business hours (Mon–Fri 09:00–17:59:59.999 UTC)".into()),
            "delete" if owner => (true, "delete is granted to the owner only".into()),
            action => (false, format!("denied by default: no grant covers `{action}` for this subject")),
        }
    }

    fn request(&self) -> Value {
        json!({
            "op": "abac_check",
            "subject": {"id": self.id, "department": self.department, "clearance": self.clearance, "region": self.region},
            "action": self.action,
            "resource": {"owner": self.owner, "department": self.resource_department,
                         "classification": self.classification, "region": self.resource_region},
            "env": {"now_ms": self.now_ms, "region": self.env_region},
        })
    }

    fn check(&self, p: &mut Stdio, rule: &str) -> Result<(), Failure> {
        let (allowed, why) = self.decide();
        let weekday = [
            "Monday",
            "Tuesday",
            "Wednesday",
            "Thursday",
            "Friday",
            "Saturday",
            "Sunday",
        ][((self.now_ms / DAY + 3) % 7) as usize];
        let t = self.now_ms % DAY;
        let when = format!(
            "now_ms {} is a {weekday}, {:02}:{:02}:{:02}.{:03} UTC",
            self.now_ms,
            t / HOUR,
            t % HOUR / 60_000,
            t % 60_000 / 1000,
            t % 1000
        );
        ask(
            p,
            &self.request(),
            if allowed { 200 } else { 403 },
            rule,
            &format!("{why}; {when}"),
        )
    }
}

fn abac_rules(p: &mut Stdio, rng: &mut Rng) -> Result<(), Failure> {
    let rule = "the ABAC policy: deny when the request's region is not the resource's or the clearance is \
                below the classification; then read to owner or department, write to owner (or department in \
                business hours), delete to owner; deny by default";
    let edits: Vec<fn(&mut AbacCase)> = vec![
        |c| c.action = "delete".into(),
        |c| c.env_region = "us".into(),
        |c| {
            c.env_region = "us".into();
            c.region = "us".into();
        },
        |c| c.clearance = 1,
        |c| {
            c.clearance = 3;
            c.id = "bob".into();
        },
        |c| {
            c.id = "bob".into();
            c.action = "delete".into();
        },
        |c| {
            c.id = "bob".into();
            c.department = "sales".into();
        },
        |c| {
            c.id = "bob".into();
            c.action = "write".into();
        },
        |c| {
            c.id = "bob".into();
            c.department = "sales".into();
            c.action = "write".into();
        },
        |c| c.action = "share".into(),
        |c| {
            c.id = "bob".into();
            c.action = "share".into();
        },
        |c| {
            c.action = "write".into();
            c.now_ms += 10 * HOUR;
        },
    ];
    for edit in edits {
        let mut case = AbacCase::base(rng);
        edit(&mut case);
        case.check(p, rule)?;
    }
    Ok(())
}

fn abac_hours(p: &mut Stdio, rng: &mut Rng) -> Result<(), Failure> {
    let rule = "business hours are Monday to Friday, from 09:00:00.000 to 17:59:59.999 UTC (now_ms is unix \
                milliseconds; 1970-01-01 was a Thursday)";
    let week = MONDAY + rng.below(200) * 7 * DAY;
    let day = rng.below(5) * DAY;
    let times = [
        week + day + 9 * HOUR - 1,
        week + day + 9 * HOUR,
        week + day + 18 * HOUR - 1,
        week + day + 18 * HOUR,
        week + 4 * DAY + 17 * HOUR,
        week + 5 * DAY + 12 * HOUR,
        week + 6 * DAY + 10 * HOUR,
        week + 7 * DAY + 9 * HOUR,
        week + 7 * DAY - 1,
    ];
    for now_ms in times {
        let mut case = AbacCase::base(rng);
        case.id = "bob".into();
        case.action = "write".into();
        case.now_ms = now_ms;
        case.check(p, rule)?;
    }
    Ok(())
}

fn abac_random(p: &mut Stdio, rng: &mut Rng) -> Result<(), Failure> {
    let rule = "a seeded random request, decided by the ABAC policy of the contract";
    for _ in 0..200 {
        let people = ["ada", "bob", "cy"];
        let departments = ["eng", "sales"];
        let regions = ["eu", "us"];
        let case = AbacCase {
            id: rng.pick(&people).to_string(),
            department: rng.pick(&departments).to_string(),
            clearance: rng.below(4),
            region: rng.pick(&regions).to_string(),
            action: rng
                .pick(&["read", "read", "write", "write", "delete", "share"])
                .to_string(),
            owner: rng.pick(&people).to_string(),
            resource_department: rng.pick(&departments).to_string(),
            classification: rng.below(4),
            resource_region: rng.pick(&regions).to_string(),
            now_ms: MONDAY + rng.below(3 * 365 * DAY),
            env_region: rng.pick(&regions).to_string(),
        };
        case.check(p, rule)?;
    }
    Ok(())
}

/// A parsed tuple: object, relation, and who (`user:X`, or an object and a relation, empty for `parent`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Tuple {
    object: String,
    relation: String,
    who_object: String,
    who_relation: String,
}

impl Tuple {
    fn text(&self) -> String {
        if self.who_relation.is_empty() {
            format!("{}#{}@{}", self.object, self.relation, self.who_object)
        } else {
            format!(
                "{}#{}@{}#{}",
                self.object, self.relation, self.who_object, self.who_relation
            )
        }
    }
}

/// The ReBAC reference: a least fixpoint of everything a user has.
#[derive(Debug, Default)]
struct RebacModel {
    tuples: BTreeSet<Tuple>,
}

type Node = (String, String);

impl RebacModel {
    fn write(
        &mut self,
        p: &mut Stdio,
        object: &str,
        relation: &str,
        who: &str,
    ) -> Result<(), Failure> {
        let (who_object, who_relation) = match who.split_once('#') {
            Some((o, r)) => (o.to_string(), r.to_string()),
            None => (who.to_string(), String::new()),
        };
        let tuple = Tuple {
            object: object.to_string(),
            relation: relation.to_string(),
            who_object,
            who_relation,
        };
        let text = tuple.text();
        self.tuples.insert(tuple);
        ok(p, &json!({"op": "write", "tuple": text}))
    }

    fn delete(&mut self, p: &mut Stdio, text: &str) -> Result<(), Failure> {
        self.tuples.retain(|t| t.text() != text);
        ok(p, &json!({"op": "delete", "tuple": text}))
    }

    /// Everything `user:USER` has, each with how it was derived (the node it came from, and the rule).
    fn derive(&self, user: &str) -> BTreeMap<Node, (Option<Node>, String)> {
        let me = format!("user:{user}");
        let mut has: BTreeMap<Node, (Option<Node>, String)> = BTreeMap::new();
        loop {
            let mut added: Vec<(Node, Option<Node>, String)> = Vec::new();
            for t in &self.tuples {
                let node = (t.object.clone(), t.relation.clone());
                if has.contains_key(&node) {
                    continue;
                }
                if t.who_relation.is_empty() && t.who_object == me {
                    added.push((node, None, format!("tuple {}", t.text())));
                } else if !t.who_relation.is_empty() {
                    let from = (t.who_object.clone(), t.who_relation.clone());
                    if has.contains_key(&from) {
                        added.push((node, Some(from), format!("tuple {}", t.text())));
                    }
                } else if t.relation == "parent" {
                    for rel in ["editor", "viewer"] {
                        let from = (t.who_object.clone(), rel.to_string());
                        let child = (t.object.clone(), rel.to_string());
                        if has.contains_key(&from) && !has.contains_key(&child) {
                            added.push((
                                child,
                                Some(from),
                                format!("{rel} of the parent, by tuple {}", t.text()),
                            ));
                        }
                    }
                }
            }
            for ((object, relation), _) in has.iter() {
                let implied = match relation.as_str() {
                    "owner" => "editor",
                    "editor" => "viewer",
                    _ => continue,
                };
                let node = (object.clone(), implied.to_string());
                if !has.contains_key(&node) {
                    added.push((
                        node,
                        Some((object.clone(), relation.clone())),
                        format!("{relation}s are {implied}s"),
                    ));
                }
            }
            if added.is_empty() {
                return has;
            }
            for (node, from, why) in added {
                has.entry(node).or_insert((from, why));
            }
        }
    }

    fn check(
        &self,
        p: &mut Stdio,
        user: &str,
        relation: &str,
        object: &str,
        rule: &str,
    ) -> Result<(), Failure> {
        let has = self.derive(user);
        let target = (object.to_string(), relation.to_string());
        let why = match has.get(&target) {
            Some(_) => {
                let mut chain = Vec::new();
                let mut at = Some(target.clone());
                while let Some(node) = at {
                    let (from, how) = &has[&node];
                    chain.push(format!("{}#{} ({how})", node.0, node.1));
                    at = from.clone();
                }
                chain.reverse();
                format!("user:{user} reaches it: {}", chain.join(" → "))
            }
            None => {
                let near: Vec<String> = self
                    .tuples
                    .iter()
                    .filter(|t| t.object == object)
                    .map(Tuple::text)
                    .collect();
                format!(
                    "no chain of tuples and rewrites leads from user:{user} to {object}#{relation}; the tuples \
                     on {object}: {}",
                    near.join(", ")
                )
            }
        };
        let expected = if has.contains_key(&target) { 200 } else { 403 };
        ask(
            p,
            &json!({"op": "check", "user": user, "relation": relation, "object": object}),
            expected,
            rule,
            &why,
        )
    }

    fn check_all(
        &self,
        p: &mut Stdio,
        users: &[String],
        objects: &[String],
        rule: &str,
    ) -> Result<(), Failure> {
        for user in users {
            for object in objects {
                for relation in ["viewer", "editor", "owner"] {
                    self.check(p, user, relation, object, rule)?;
                }
            }
        }
        Ok(())
    }

    fn folders(&mut self, p: &mut Stdio, rng: &mut Rng) -> Result<(), Failure> {
        let rule = "viewer = direct ∪ editor ∪ viewer of the parent; editor = direct ∪ owner ∪ editor of the \
                    parent: a folder's viewers and editors reach every document below it, however deep";
        let t = rng.word(4);
        let (root, mid, leaf) = (
            format!("folder:{t}-root"),
            format!("folder:{t}-mid"),
            format!("folder:{t}-leaf"),
        );
        let doc = format!("doc:{t}-plan");
        let users: Vec<String> = (0..5).map(|i| format!("{t}-u{i}")).collect();
        self.write(p, &mid, "parent", &root)?;
        self.write(p, &leaf, "parent", &mid)?;
        self.write(p, &doc, "parent", &leaf)?;
        self.write(p, &root, "viewer", &format!("user:{}", users[0]))?;
        self.write(p, &mid, "editor", &format!("user:{}", users[1]))?;
        self.write(p, &root, "owner", &format!("user:{}", users[2]))?;
        self.write(p, &doc, "viewer", &format!("user:{}", users[3]))?;
        let objects = [root, mid, leaf, doc];
        self.check_all(p, &users, &objects, rule)
    }

    fn groups(&mut self, p: &mut Stdio, rng: &mut Rng) -> Result<(), Failure> {
        let rule = "a userset tuple (doc:x#viewer@group:g#member, doc:x#editor@folder:f#viewer) grants the \
                    relation to everyone who has the userset's relation by any path (nested groups, rewrites), \
                    at any depth";
        let t = rng.word(4);
        let depth = rng.range(3, 5) as usize;
        let groups: Vec<String> = (0..depth).map(|i| format!("group:{t}-g{i}")).collect();
        let users: Vec<String> = (0..depth + 1).map(|i| format!("{t}-m{i}")).collect();
        for i in 0..depth {
            self.write(p, &groups[i], "member", &format!("user:{}", users[i]))?;
            if i + 1 < depth {
                self.write(
                    p,
                    &groups[i],
                    "member",
                    &format!("{}#member", groups[i + 1]),
                )?;
            }
        }
        let doc = format!("doc:{t}-spec");
        self.write(p, &doc, "editor", &format!("{}#member", groups[0]))?;
        let other = format!("doc:{t}-notes");
        self.write(
            p,
            &other,
            "viewer",
            &format!("{}#member", groups[depth - 1]),
        )?;
        // A folder's viewers (its owner among them, by the rewrites) are the editors of a third doc.
        let (folder, shared) = (format!("folder:{t}-share"), format!("doc:{t}-shared"));
        self.write(p, &folder, "owner", &format!("user:{}", users[0]))?;
        self.write(p, &folder, "viewer", &format!("{}#member", groups[1]))?;
        self.write(p, &shared, "editor", &format!("{folder}#viewer"))?;
        for user in &users {
            for group in &groups {
                self.check(p, user, "member", group, rule)?;
            }
        }
        self.check_all(p, &users, &[doc, other, shared], rule)
    }

    fn cycles(&mut self, p: &mut Stdio, rng: &mut Rng) -> Result<(), Failure> {
        let rule = "groups that contain each other, and folders that are each other's parent, must terminate \
                    (a visited set) and grant exactly what the tuples grant";
        let t = rng.word(4);
        let (a, b, c) = (
            format!("group:{t}-a"),
            format!("group:{t}-b"),
            format!("group:{t}-c"),
        );
        self.write(p, &a, "member", &format!("{b}#member"))?;
        self.write(p, &b, "member", &format!("{c}#member"))?;
        self.write(p, &c, "member", &format!("{a}#member"))?;
        let (x, y) = (format!("folder:{t}-x"), format!("folder:{t}-y"));
        self.write(p, &x, "parent", &y)?;
        self.write(p, &y, "parent", &x)?;
        let doc = format!("doc:{t}-loop");
        self.write(p, &doc, "parent", &x)?;
        self.write(p, &y, "viewer", &format!("{a}#member"))?;
        let users: Vec<String> = vec![format!("{t}-in"), format!("{t}-out")];
        // Nobody is in the cycle yet: every check must terminate and deny.
        for group in [&a, &b, &c] {
            self.check(p, &users[0], "member", group, rule)?;
        }
        self.check_all(p, &users, &[x.clone(), y.clone(), doc.clone()], rule)?;
        self.write(p, &b, "member", &format!("user:{}", users[0]))?;
        for group in [&a, &b, &c] {
            self.check(p, &users[0], "member", group, rule)?;
        }
        self.check_all(p, &users, &[x, y, doc], rule)
    }

    fn deletion(&mut self, p: &mut Stdio, rng: &mut Rng) -> Result<(), Failure> {
        let rule =
            "checks read the tuples as they are now: a deleted tuple grants nothing any more";
        let t = rng.word(4);
        let (group, folder, doc) = (
            format!("group:{t}-team"),
            format!("folder:{t}-box"),
            format!("doc:{t}-file"),
        );
        let user = format!("{t}-leaver");
        self.write(p, &group, "member", &format!("user:{user}"))?;
        self.write(p, &folder, "viewer", &format!("{group}#member"))?;
        self.write(p, &doc, "parent", &folder)?;
        self.check(p, &user, "viewer", &doc, rule)?;
        self.delete(p, &format!("{group}#member@user:{user}"))?;
        self.check(p, &user, "viewer", &doc, rule)?;
        self.check(p, &user, "member", &group, rule)
    }

    fn random(&mut self, p: &mut Stdio, rng: &mut Rng, round: u64) -> Result<(), Failure> {
        let rule = "a seeded random graph: each check must equal the reference (a least fixpoint of the tuples \
                    and rewrites of the contract)";
        let t = format!("r{round}{}", rng.word(3));
        let users: Vec<String> = (0..8).map(|i| format!("{t}-u{i}")).collect();
        let groups: Vec<String> = (0..6).map(|i| format!("group:{t}-g{i}")).collect();
        let folders: Vec<String> = (0..6).map(|i| format!("folder:{t}-f{i}")).collect();
        let docs: Vec<String> = (0..10).map(|i| format!("doc:{t}-d{i}")).collect();
        for _ in 0..14 {
            let group = rng.pick(&groups).clone();
            let who = if rng.chance(1, 2) {
                format!("user:{}", rng.pick(&users))
            } else {
                format!("{}#member", rng.pick(&groups))
            };
            self.write(p, &group, "member", &who)?;
        }
        for (i, folder) in folders.iter().enumerate().skip(1) {
            if rng.chance(4, 5) {
                let parent = folders[rng.below(i as u64) as usize].clone();
                self.write(p, folder, "parent", &parent)?;
            }
        }
        if rng.chance(1, 2) {
            // A parent cycle.
            let (a, b) = (
                folders[0].clone(),
                folders[rng.range(1, 5) as usize].clone(),
            );
            self.write(p, &a, "parent", &b)?;
        }
        for doc in &docs {
            if rng.chance(3, 4) {
                let parent = rng.pick(&folders).clone();
                self.write(p, doc, "parent", &parent)?;
            }
        }
        let mut objects: Vec<String> = folders.clone();
        objects.extend(docs.iter().cloned());
        for _ in 0..24 {
            let object = rng.pick(&objects).clone();
            let relation = *rng.pick(&["owner", "editor", "viewer", "viewer"]);
            let who = match rng.below(4) {
                0 | 1 => format!("user:{}", rng.pick(&users)),
                2 => format!("{}#member", rng.pick(&groups)),
                _ => format!("{}#{}", rng.pick(&folders), rng.pick(&["viewer", "editor"])),
            };
            self.write(p, &object, relation, &who)?;
        }
        for step in 0..150 {
            if step == 75 {
                let tuples: Vec<String> = self.tuples.iter().map(Tuple::text).collect();
                for _ in 0..6 {
                    let victim = rng.pick(&tuples).clone();
                    self.delete(p, &victim)?;
                }
            }
            let user = rng.pick(&users).clone();
            if rng.chance(1, 6) {
                let group = rng.pick(&groups).clone();
                self.check(p, &user, "member", &group, rule)?;
            } else {
                let object = rng.pick(&objects).clone();
                let relation = *rng.pick(&["owner", "editor", "viewer", "viewer"]);
                self.check(p, &user, relation, &object, rule)?;
            }
        }
        Ok(())
    }
}
