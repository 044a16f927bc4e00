//! mutant: counts 18:00 to 18:59 as business hours (9..=18)
//! expect: business hours are Monday to Friday

use std::collections::{BTreeMap, BTreeSet};

use backlings_harness::stdio::serve_json_lines;
use serde::Deserialize;
use serde_json::{Value, json};

/// The HTTP status of an authorization decision: 401 without a user, else 200 if `allowed` says so, else 403.
pub fn status(user: Option<&str>, allowed: impl FnOnce(&str) -> bool) -> u16 {
    match user {
        None => 401,
        Some(user) if allowed(user) => 200,
        Some(_) => 403,
    }
}

/// A role: its own permissions and the roles it inherits from.
#[derive(Debug, Clone, Default)]
pub struct Role {
    pub permissions: BTreeSet<String>,
    pub inherits: Vec<String>,
}

/// Roles and who has them.
#[derive(Debug, Default)]
pub struct Rbac {
    pub roles: BTreeMap<String, Role>,
    pub assignments: BTreeMap<String, BTreeSet<String>>,
}

impl Rbac {
    /// Whether `user` has `permission` through any role they hold or any role those inherit from.
    pub fn has_permission(&self, user: &str, permission: &str) -> bool {
        let Some(held) = self.assignments.get(user) else {
            return false;
        };
        let mut seen: BTreeSet<&str> = BTreeSet::new();
        let mut stack: Vec<&str> = held.iter().map(String::as_str).collect();
        while let Some(name) = stack.pop() {
            if !seen.insert(name) {
                continue;
            }
            let Some(role) = self.roles.get(name) else {
                continue;
            };
            if role.permissions.contains(permission) {
                return true;
            }
            stack.extend(role.inherits.iter().map(String::as_str));
        }
        false
    }
}

/// Who asks (ABAC).
#[derive(Debug, Clone, Deserialize)]
pub struct Subject {
    pub id: String,
    pub department: String,
    pub clearance: u8,
    pub region: String,
}

/// What is asked about (ABAC).
#[derive(Debug, Clone, Deserialize)]
pub struct Resource {
    pub owner: String,
    pub department: String,
    pub classification: u8,
    pub region: String,
}

/// When and from where (ABAC).
#[derive(Debug, Clone, Deserialize)]
pub struct Environment {
    pub now_ms: u64,
    pub region: String,
}

/// Whether `now_ms` (unix milliseconds, UTC) falls in business hours: Monday to Friday, 09:00 to 17:59:59.999.
pub fn is_business_hours(now_ms: u64) -> bool {
    let days = now_ms / 86_400_000;
    // 1970-01-01 was a Thursday: with Monday = 0, day 0 is 3.
    let weekday = (days + 3) % 7;
    let hour = now_ms / 3_600_000 % 24;
    weekday < 5 && (9..=18).contains(&hour)
}

/// The ABAC policy of the header: the denials first, then the grants, and deny by default.
pub fn abac_allows(
    subject: &Subject,
    action: &str,
    resource: &Resource,
    env: &Environment,
) -> bool {
    if env.region != resource.region || subject.clearance < resource.classification {
        return false;
    }
    let is_owner = subject.id == resource.owner;
    let same_department = subject.department == resource.department;
    match action {
        "read" => is_owner || same_department,
        "write" => is_owner || (same_department && is_business_hours(env.now_ms)),
        "delete" => is_owner,
        _ => false,
    }
}

/// Who a tuple grants a relation to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Who {
    /// `user:ID`.
    User(String),
    /// `TYPE:ID#RELATION`: everyone with that relation to that object (or, for `parent`, the object itself).
    Set { object: String, relation: String },
}

/// One relation tuple: `object#relation@who`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Tuple {
    pub object: String,
    pub relation: String,
    pub who: Who,
}

/// Parses `TYPE:ID#RELATION@user:ID`, `TYPE:ID#RELATION@TYPE:ID#RELATION` or, for `parent`,
/// `TYPE:ID#parent@TYPE:ID` (provided).
pub fn parse_tuple(text: &str) -> Result<Tuple, String> {
    let bad = || format!("not a tuple: {text:?}");
    let (left, right) = text.split_once('@').ok_or_else(bad)?;
    let (object, relation) = left.split_once('#').ok_or_else(bad)?;
    if !object.contains(':') || relation.is_empty() {
        return Err(bad());
    }
    let who = match right.split_once('#') {
        Some((set, rel)) if set.contains(':') && !rel.is_empty() => Who::Set {
            object: set.to_string(),
            relation: rel.to_string(),
        },
        None if right.starts_with("user:") => Who::User(right["user:".len()..].to_string()),
        // `doc:x#parent@folder:y`: the parent itself, stored as a userset without relation.
        None if right.contains(':') => Who::Set {
            object: right.to_string(),
            relation: String::new(),
        },
        _ => return Err(bad()),
    };
    Ok(Tuple {
        object: object.to_string(),
        relation: relation.to_string(),
        who,
    })
}

/// The tuple store and the check engine.
#[derive(Debug, Default)]
pub struct Rebac {
    pub tuples: BTreeSet<Tuple>,
}

impl Rebac {
    /// Who the tuples `object#relation@…` name directly (provided).
    pub fn direct<'a>(
        &'a self,
        object: &'a str,
        relation: &'a str,
    ) -> impl Iterator<Item = &'a Who> + 'a {
        self.tuples
            .iter()
            .filter(move |t| t.object == object && t.relation == relation)
            .map(|t| &t.who)
    }

    /// Whether `user:USER` has `relation` to `object`, through the tuples and the rewrites of the header.
    pub fn check(&self, object: &str, relation: &str, user: &str) -> bool {
        let mut visited = BTreeSet::new();
        self.reach(object, relation, user, &mut visited)
    }

    fn reach(
        &self,
        object: &str,
        relation: &str,
        user: &str,
        visited: &mut BTreeSet<(String, String)>,
    ) -> bool {
        if !visited.insert((object.to_string(), relation.to_string())) {
            return false;
        }
        for who in self.direct(object, relation) {
            let found = match who {
                Who::User(id) => id == user,
                Who::Set {
                    object: set,
                    relation: rel,
                } => !rel.is_empty() && self.reach(set, rel, user, visited),
            };
            if found {
                return true;
            }
        }
        let parents = || {
            self.direct(object, "parent").filter_map(|who| match who {
                Who::Set {
                    object: parent,
                    relation: rel,
                } if rel.is_empty() => Some(parent.clone()),
                _ => None,
            })
        };
        match relation {
            "editor" => {
                self.reach(object, "owner", user, visited)
                    || parents().any(|p| self.reach(&p, "editor", user, visited))
            }
            "viewer" => {
                self.reach(object, "editor", user, visited)
                    || parents().any(|p| self.reach(&p, "viewer", user, visited))
            }
            _ => false,
        }
    }
}

/// One request of the protocol (provided).
#[derive(Debug, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum Request {
    DefineRole {
        role: String,
        permissions: Vec<String>,
        inherits: Vec<String>,
    },
    Assign {
        user: String,
        role: String,
    },
    Unassign {
        user: String,
        role: String,
    },
    RbacCheck {
        user: Option<String>,
        permission: String,
    },
    AbacCheck {
        subject: Option<Subject>,
        action: String,
        resource: Resource,
        env: Environment,
    },
    Write {
        tuple: String,
    },
    Delete {
        tuple: String,
    },
    Check {
        user: Option<String>,
        relation: String,
        object: String,
    },
}

/// The three engines (provided).
#[derive(Debug, Default)]
struct Engines {
    rbac: Rbac,
    rebac: Rebac,
}

impl Engines {
    fn handle(&mut self, request: Request) -> Value {
        let ok = json!({ "ok": true });
        match request {
            Request::DefineRole {
                role,
                permissions,
                inherits,
            } => {
                let permissions = permissions.into_iter().collect();
                self.rbac.roles.insert(
                    role,
                    Role {
                        permissions,
                        inherits,
                    },
                );
                ok
            }
            Request::Assign { user, role } => {
                self.rbac.assignments.entry(user).or_default().insert(role);
                ok
            }
            Request::Unassign { user, role } => {
                if let Some(roles) = self.rbac.assignments.get_mut(&user) {
                    roles.remove(&role);
                }
                ok
            }
            Request::RbacCheck { user, permission } => {
                json!({ "status": status(user.as_deref(), |u| self.rbac.has_permission(u, &permission)) })
            }
            Request::AbacCheck {
                subject,
                action,
                resource,
                env,
            } => {
                let id = subject.as_ref().map(|s| s.id.as_str());
                let allowed = |_: &str| {
                    subject
                        .as_ref()
                        .is_some_and(|s| abac_allows(s, &action, &resource, &env))
                };
                json!({ "status": status(id, allowed) })
            }
            Request::Write { tuple } => match parse_tuple(&tuple) {
                Ok(tuple) => {
                    self.rebac.tuples.insert(tuple);
                    ok
                }
                Err(why) => json!({ "error": why }),
            },
            Request::Delete { tuple } => match parse_tuple(&tuple) {
                Ok(tuple) => {
                    self.rebac.tuples.remove(&tuple);
                    ok
                }
                Err(why) => json!({ "error": why }),
            },
            Request::Check {
                user,
                relation,
                object,
            } => {
                json!({ "status": status(user.as_deref(), |u| self.rebac.check(&object, &relation, u)) })
            }
        }
    }
}

/// Serves the three engines over JSON lines (provided: you do not need to change this).
fn main() {
    let mut engines = Engines::default();
    serve_json_lines(|request: Request| engines.handle(request));
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2024-01-01 00:00:00 UTC, a Monday.
    const MONDAY: u64 = 1_704_067_200_000;
    const HOUR: u64 = 3_600_000;

    fn rebac(tuples: &[&str]) -> Rebac {
        let mut r = Rebac::default();
        for t in tuples {
            r.tuples.insert(parse_tuple(t).unwrap());
        }
        r
    }

    // Nobody logged in is 401; a logged-in user without the right is 403.
    #[test]
    fn unauthenticated_is_401_and_forbidden_is_403() {
        assert_eq!(status(None, |_| true), 401);
        assert_eq!(status(Some("ada"), |_| false), 403);
        assert_eq!(status(Some("ada"), |_| true), 200);
    }

    // Permissions flow down a chain of roles, and a cycle in the chain terminates.
    #[test]
    fn roles_inherit_transitively_even_through_cycles() {
        let mut rbac = Rbac::default();
        let role = |perms: &[&str], inherits: &[&str]| Role {
            permissions: perms.iter().map(|p| p.to_string()).collect(),
            inherits: inherits.iter().map(|p| p.to_string()).collect(),
        };
        rbac.roles
            .insert("admin".into(), role(&["user.delete"], &["editor"]));
        rbac.roles
            .insert("editor".into(), role(&["doc.write"], &["viewer"]));
        rbac.roles
            .insert("viewer".into(), role(&["doc.read"], &["admin"]));
        rbac.assignments
            .entry("ada".into())
            .or_default()
            .insert("admin".into());
        rbac.assignments
            .entry("bob".into())
            .or_default()
            .insert("editor".into());
        assert!(rbac.has_permission("ada", "doc.read"));
        assert!(rbac.has_permission("bob", "doc.read"));
        assert!(!rbac.has_permission("bob", "billing.read"));
        assert!(!rbac.has_permission("nobody", "doc.read"));
    }

    // Business hours: Monday 09:00 is in, 08:59:59.999 and 18:00 are out, Saturday is out.
    #[test]
    fn business_hours_are_exact() {
        assert!(!is_business_hours(MONDAY + 9 * HOUR - 1));
        assert!(is_business_hours(MONDAY + 9 * HOUR));
        assert!(is_business_hours(MONDAY + 18 * HOUR - 1));
        assert!(!is_business_hours(MONDAY + 18 * HOUR));
        assert!(is_business_hours(MONDAY + 4 * 24 * HOUR + 12 * HOUR));
        assert!(!is_business_hours(MONDAY + 5 * 24 * HOUR + 12 * HOUR));
    }

    // The denials win over ownership, and a department colleague writes only during business hours.
    #[test]
    fn abac_policy() {
        let subject = |id: &str, clearance| Subject {
            id: id.into(),
            department: "eng".into(),
            clearance,
            region: "eu".into(),
        };
        let resource = Resource {
            owner: "ada".into(),
            department: "eng".into(),
            classification: 2,
            region: "eu".into(),
        };
        let env = |now_ms, region: &str| Environment {
            now_ms,
            region: region.into(),
        };
        let night = MONDAY + 22 * HOUR;
        let noon = MONDAY + 12 * HOUR;
        assert!(abac_allows(
            &subject("ada", 2),
            "delete",
            &resource,
            &env(night, "eu")
        ));
        assert!(!abac_allows(
            &subject("ada", 2),
            "read",
            &resource,
            &env(noon, "us")
        ));
        assert!(!abac_allows(
            &subject("ada", 1),
            "read",
            &resource,
            &env(noon, "eu")
        ));
        assert!(abac_allows(
            &subject("bob", 3),
            "write",
            &resource,
            &env(noon, "eu")
        ));
        assert!(!abac_allows(
            &subject("bob", 3),
            "write",
            &resource,
            &env(night, "eu")
        ));
        assert!(!abac_allows(
            &subject("bob", 3),
            "delete",
            &resource,
            &env(noon, "eu")
        ));
        assert!(!abac_allows(
            &subject("bob", 3),
            "share",
            &resource,
            &env(noon, "eu")
        ));
    }

    // A viewer of a folder views the documents in it, through nested groups.
    #[test]
    fn folder_permissions_reach_documents_through_groups() {
        let r = rebac(&[
            "group:eng#member@user:ada",
            "group:all#member@group:eng#member",
            "folder:root#viewer@group:all#member",
            "folder:q3#parent@folder:root",
            "doc:plan#parent@folder:q3",
            "doc:plan#owner@user:bob",
        ]);
        assert!(r.check("doc:plan", "viewer", "ada"));
        assert!(!r.check("doc:plan", "editor", "ada"));
        assert!(r.check("doc:plan", "editor", "bob"));
        assert!(r.check("doc:plan", "viewer", "bob"));
        assert!(!r.check("doc:plan", "viewer", "eve"));
    }

    // Groups that contain each other terminate, and the answer is still right.
    #[test]
    fn cycles_terminate() {
        let r = rebac(&[
            "group:a#member@group:b#member",
            "group:b#member@group:a#member",
            "group:b#member@user:ada",
            "folder:x#parent@folder:y",
            "folder:y#parent@folder:x",
            "folder:y#viewer@group:a#member",
        ]);
        assert!(r.check("group:a", "member", "ada"));
        assert!(r.check("folder:x", "viewer", "ada"));
        assert!(!r.check("folder:x", "viewer", "eve"));
        assert!(!r.check("folder:x", "editor", "ada"));
    }
}
