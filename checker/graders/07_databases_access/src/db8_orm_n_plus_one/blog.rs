//! The seeded blog database: written to the learner's file, and kept in memory as the model of every answer.

use backlings_grade::{Failure, Rng};
use rusqlite::{Connection, params};
use serde_json::{Value, json};

use crate::scratch::sql_failure;

/// Author names: apostrophes and non-ASCII letters included, so a pasted value breaks loudly.
const NAMES: [&str; 12] = [
    "Ada", "O'Brien", "Zoë", "Grace", "Linus", "D'Arcy", "Edsger", "Barbara", "Ken", "Radia",
    "Tony", "Frances",
];
const WORDS: [&str; 12] = [
    "index", "cache", "shard", "lock", "queue", "latch", "page", "log", "join", "cursor", "tuple",
    "vacuum",
];

/// One post row.
#[derive(Debug, Clone)]
pub struct Post {
    pub id: i64,
    pub author_id: i64,
    pub title: String,
    pub score: i64,
}

/// The whole database, in memory.
pub struct Blog {
    /// `(id, name)`; ids are 1-based; the last author has no post.
    pub authors: Vec<(i64, String)>,
    pub posts: Vec<Post>,
    /// `(id, post_id, body)`, by id.
    pub comments: Vec<(i64, i64, String)>,
}

/// The schema, as the exercise's header states it.
const SCHEMA: &str = "
CREATE TABLE authors (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE posts (id INTEGER PRIMARY KEY, author_id INTEGER NOT NULL REFERENCES authors(id),
                    title TEXT NOT NULL, score INTEGER NOT NULL);
CREATE TABLE comments (id INTEGER PRIMARY KEY, post_id INTEGER NOT NULL REFERENCES posts(id),
                       body TEXT NOT NULL);";

impl Blog {
    /// A seeded blog: 12 authors, 120 posts (scores from a few values, so ties are common), 0 to 3
    /// comments per post, comment ids interleaved across posts.
    pub fn seeded(rng: &mut Rng) -> Blog {
        let authors: Vec<(i64, String)> = NAMES
            .iter()
            .enumerate()
            .map(|(i, name)| (i as i64 + 1, name.to_string()))
            .collect();
        let mut posts = Vec::new();
        for id in 1..=120 {
            let title = match rng.below(8) {
                0 => format!("{}'s \"{}\" notes", rng.pick(&NAMES), rng.pick(&WORDS)),
                _ => format!("{} {} {id}", rng.pick(&WORDS), rng.pick(&WORDS)),
            };
            posts.push(Post {
                id,
                author_id: 1 + rng.below(authors.len() as u64 - 1) as i64,
                title,
                score: 1000 + 250 * rng.below(12) as i64,
            });
        }
        // Comments are written in a shuffled post order, so a post's comments are not neighbours.
        let mut owners: Vec<i64> = Vec::new();
        for post in &posts {
            for _ in 0..rng.below(4) {
                owners.push(post.id);
            }
        }
        rng.shuffle(&mut owners);
        let comments = owners
            .into_iter()
            .enumerate()
            .map(|(i, post_id)| {
                let body = format!("re {post_id}: {}", rng.pick(&WORDS));
                (i as i64 + 1, post_id, body)
            })
            .collect();
        Blog {
            authors,
            posts,
            comments,
        }
    }

    /// Creates the database file at `path`.
    pub fn write(&self, path: &str) -> Result<(), Failure> {
        let mut conn =
            Connection::open(path).map_err(|e| sql_failure("create the blog database", e))?;
        let tx = conn
            .transaction()
            .map_err(|e| sql_failure("begin a transaction", e))?;
        tx.execute_batch(SCHEMA)
            .map_err(|e| sql_failure("create the schema", e))?;
        for (id, name) in &self.authors {
            tx.execute("INSERT INTO authors VALUES (?1, ?2)", params![id, name])
                .map_err(|e| sql_failure("insert an author", e))?;
        }
        for post in &self.posts {
            tx.execute(
                "INSERT INTO posts VALUES (?1, ?2, ?3, ?4)",
                params![post.id, post.author_id, post.title, post.score],
            )
            .map_err(|e| sql_failure("insert a post", e))?;
        }
        for (id, post_id, body) in &self.comments {
            tx.execute(
                "INSERT INTO comments VALUES (?1, ?2, ?3)",
                params![id, post_id, body],
            )
            .map_err(|e| sql_failure("insert a comment", e))?;
        }
        tx.commit().map_err(|e| sql_failure("commit the blog", e))
    }

    /// Every row of `table` as JSON arrays, columns in schema order, by id.
    pub fn rows(&self, table: &str) -> Vec<Vec<Value>> {
        match table {
            "authors" => self
                .authors
                .iter()
                .map(|(id, name)| vec![json!(id), json!(name)])
                .collect(),
            "posts" => self
                .posts
                .iter()
                .map(|p| {
                    vec![
                        json!(p.id),
                        json!(p.author_id),
                        json!(p.title),
                        json!(p.score),
                    ]
                })
                .collect(),
            _ => self
                .comments
                .iter()
                .map(|(id, post_id, body)| vec![json!(id), json!(post_id), json!(body)])
                .collect(),
        }
    }

    /// The name of an author.
    pub fn author(&self, id: i64) -> Value {
        let name = &self.authors[(id - 1) as usize].1;
        json!({ "id": id, "name": name })
    }

    /// A post as the program must list it, with the relations in `include` loaded.
    pub fn post_json(&self, post: &Post, include: &[&str]) -> Value {
        let author = if include.contains(&"author") {
            self.author(post.author_id)
        } else {
            Value::Null
        };
        let comments = if include.contains(&"comments") {
            json!(
                self.comments
                    .iter()
                    .filter(|(_, post_id, _)| *post_id == post.id)
                    .map(|(id, post_id, body)| json!({"id": id, "post_id": post_id, "body": body}))
                    .collect::<Vec<_>>()
            )
        } else {
            Value::Null
        };
        json!({
            "id": post.id, "author_id": post.author_id, "title": post.title, "score": post.score,
            "author": author, "comments": comments,
        })
    }
}
