//! The rows the grader writes itself, with plain SQL, and the counts the triggers must keep.

use std::collections::BTreeMap;

use backlings_grade::{Failure, Rng};
use rusqlite::{Connection, params};

use crate::scratch::sql_failure;

/// One write the grader makes, behind the program's back.
#[derive(Debug, Clone)]
pub enum Write {
    InsertComment {
        id: i64,
        post: i64,
    },
    DeleteComment {
        id: i64,
        post: i64,
    },
    MoveComment {
        id: i64,
        from: i64,
        to: i64,
    },
    EditComment {
        id: i64,
    },
    InsertPost {
        id: i64,
        author: i64,
    },
    /// Deletes the post's comments, then the post.
    DeletePost {
        id: i64,
        author: i64,
    },
    MovePost {
        id: i64,
        from: i64,
        to: i64,
    },
}

impl Write {
    /// The SQL it runs, for the report.
    fn describe(&self) -> String {
        match self {
            Write::InsertComment { id, post } => {
                format!("INSERT INTO comments (id, post_id, body) VALUES ({id}, {post}, '…')")
            }
            Write::DeleteComment { id, .. } => format!("DELETE FROM comments WHERE id = {id}"),
            Write::MoveComment { id, to, .. } => {
                format!("UPDATE comments SET post_id = {to} WHERE id = {id}")
            }
            Write::EditComment { id } => {
                format!("UPDATE comments SET body = 'edited' WHERE id = {id}")
            }
            Write::InsertPost { id, author } => {
                format!("INSERT INTO posts (id, author_id, title) VALUES ({id}, {author}, '…')")
            }
            Write::DeletePost { id, .. } => {
                format!(
                    "DELETE FROM comments WHERE post_id = {id}; DELETE FROM posts WHERE id = {id}"
                )
            }
            Write::MovePost { id, to, .. } => {
                format!("UPDATE posts SET author_id = {to} WHERE id = {id}")
            }
        }
    }

    /// What the triggers had to do for this write, in words.
    fn rule(&self) -> String {
        match self {
            Write::InsertComment { post, .. } => {
                format!("a new comment adds one to its post's comment_count (post {post})")
            }
            Write::DeleteComment { post, .. } => {
                format!("a deleted comment takes one from its post's comment_count (post {post})")
            }
            Write::MoveComment { from, to, .. } => format!(
                "a comment that moves to another post (UPDATE of post_id) takes one from the old post ({from}) \
                 and adds one to the new post ({to})"
            ),
            Write::EditComment { .. } => "editing a comment's body changes no counter".to_string(),
            Write::InsertPost { author, .. } => {
                format!("a new post adds one to its author's post_count (author {author})")
            }
            Write::DeletePost { author, .. } => format!(
                "deleting a post takes one from its author's post_count (author {author}), and deleting its comments \
                 takes them from the post's comment_count"
            ),
            Write::MovePost { from, to, .. } => format!(
                "a post that moves to another author (UPDATE of author_id) takes one from the old author ({from}) \
                 and adds one to the new author ({to})"
            ),
        }
    }
}

/// The model: which post every comment is on, which author every post is by.
pub struct Blog {
    authors: Vec<i64>,
    posts: BTreeMap<i64, i64>,
    comments: BTreeMap<i64, i64>,
    next_post: i64,
    next_comment: i64,
}

fn sql(conn: &Connection, sql: &str, values: impl rusqlite::Params) -> Result<(), Failure> {
    conn.execute(sql, values)
        .map(|_| ())
        .map_err(|e| sql_failure(&format!("run `{sql}` (a write of its own)"), e))
}

impl Blog {
    /// Writes seeded authors, posts and comments, before the counters exist (author 1 is there already).
    pub fn seed(rng: &mut Rng, conn: &Connection) -> Result<Blog, Failure> {
        let mut blog = Blog {
            authors: vec![1],
            posts: BTreeMap::new(),
            comments: BTreeMap::new(),
            next_post: 1,
            next_comment: 1,
        };
        for id in 2..=8 {
            sql(
                conn,
                "INSERT INTO authors (id, name) VALUES (?1, ?2)",
                params![id, rng.word(6)],
            )?;
            blog.authors.push(id);
        }
        for _ in 0..30 {
            // Authors 2 and 3 write nothing at first, so some counters start at 0.
            let author = *rng.pick(&[1, 4, 5, 6, 7, 8]);
            blog.apply(
                conn,
                &Write::InsertPost {
                    id: blog.next_post,
                    author,
                },
            )?;
        }
        for _ in 0..80 {
            let post = 1 + rng.below(25) as i64;
            blog.apply(
                conn,
                &Write::InsertComment {
                    id: blog.next_comment,
                    post,
                },
            )?;
        }
        Ok(blog)
    }

    /// A seeded write on the current rows.
    pub fn random_write(&self, rng: &mut Rng) -> Write {
        let posts: Vec<i64> = self.posts.keys().copied().collect();
        let comments: Vec<i64> = self.comments.keys().copied().collect();
        let choice = if comments.is_empty() {
            0
        } else {
            rng.below(100)
        };
        match choice {
            0..25 => Write::InsertComment {
                id: self.next_comment,
                post: *rng.pick(&posts),
            },
            25..40 => {
                let id = *rng.pick(&comments);
                Write::DeleteComment {
                    id,
                    post: self.comments[&id],
                }
            }
            40..60 => {
                let id = *rng.pick(&comments);
                let from = self.comments[&id];
                let others: Vec<i64> = posts.iter().copied().filter(|p| *p != from).collect();
                Write::MoveComment {
                    id,
                    from,
                    to: *rng.pick(&others),
                }
            }
            60..66 => Write::EditComment {
                id: *rng.pick(&comments),
            },
            66..78 => Write::InsertPost {
                id: self.next_post,
                author: *rng.pick(&self.authors),
            },
            78..84 if posts.len() > 10 => {
                let id = *rng.pick(&posts);
                Write::DeletePost {
                    id,
                    author: self.posts[&id],
                }
            }
            _ => {
                let id = *rng.pick(&posts);
                let from = self.posts[&id];
                let others: Vec<i64> = self
                    .authors
                    .iter()
                    .copied()
                    .filter(|a| *a != from)
                    .collect();
                Write::MovePost {
                    id,
                    from,
                    to: *rng.pick(&others),
                }
            }
        }
    }

    /// Runs the write on the database and on the model.
    pub fn apply(&mut self, conn: &Connection, write: &Write) -> Result<(), Failure> {
        match *write {
            Write::InsertComment { id, post } => {
                sql(
                    conn,
                    "INSERT INTO comments (id, post_id, body) VALUES (?1, ?2, 'nice')",
                    params![id, post],
                )?;
                self.comments.insert(id, post);
                self.next_comment = id + 1;
            }
            Write::DeleteComment { id, .. } => {
                sql(conn, "DELETE FROM comments WHERE id = ?1", params![id])?;
                self.comments.remove(&id);
            }
            Write::MoveComment { id, to, .. } => {
                sql(
                    conn,
                    "UPDATE comments SET post_id = ?1 WHERE id = ?2",
                    params![to, id],
                )?;
                self.comments.insert(id, to);
            }
            Write::EditComment { id } => {
                sql(
                    conn,
                    "UPDATE comments SET body = 'edited' WHERE id = ?1",
                    params![id],
                )?;
            }
            Write::InsertPost { id, author } => {
                sql(
                    conn,
                    "INSERT INTO posts (id, author_id, title) VALUES (?1, ?2, 'hello')",
                    params![id, author],
                )?;
                self.posts.insert(id, author);
                self.next_post = id + 1;
            }
            Write::DeletePost { id, .. } => {
                sql(conn, "DELETE FROM comments WHERE post_id = ?1", params![id])?;
                sql(conn, "DELETE FROM posts WHERE id = ?1", params![id])?;
                self.comments.retain(|_, post| *post != id);
                self.posts.remove(&id);
            }
            Write::MovePost { id, to, .. } => {
                sql(
                    conn,
                    "UPDATE posts SET author_id = ?1 WHERE id = ?2",
                    params![to, id],
                )?;
                self.posts.insert(id, to);
            }
        }
        Ok(())
    }
}

/// `(id, counter)` of every row of `table`.
fn counters(conn: &Connection, table: &str, column: &str) -> Result<Vec<(i64, i64)>, Failure> {
    let query = format!("SELECT id, {column} FROM {table} ORDER BY id");
    conn.prepare(&query)
        .and_then(|mut statement| {
            statement
                .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
                .collect()
        })
        .map_err(|e| {
            Failure::new(format!(
                "after the counters migration, {table}.{column} must exist and hold an integer: {e}"
            ))
        })
}

/// Every post's `comment_count` and every author's `post_count` against the model.
pub fn check_counters(
    conn: &Connection,
    blog: &Blog,
    after: Option<&Write>,
) -> Result<(), Failure> {
    let posts: Vec<(i64, i64)> = blog
        .posts
        .keys()
        .map(|&post| {
            (
                post,
                blog.comments.values().filter(|p| **p == post).count() as i64,
            )
        })
        .collect();
    let authors: Vec<(i64, i64)> = blog
        .authors
        .iter()
        .map(|&author| {
            (
                author,
                blog.posts.values().filter(|a| **a == author).count() as i64,
            )
        })
        .collect();
    for (table, column, expected) in [
        ("posts", "comment_count", posts),
        ("authors", "post_count", authors),
    ] {
        let got = counters(conn, table, column)?;
        if got == expected {
            continue;
        }
        let wrong: Vec<String> = expected
            .iter()
            .zip(&got)
            .filter(|(e, g)| e != g)
            .take(5)
            .map(|((id, want), (_, have))| {
                format!("{table} {id}: {column} {have}, real count {want}")
            })
            .collect();
        let failure = match after {
            None => Failure::new(format!(
                "right after the counters migration, every {column} equals the real count: the rows were there \
                 before the triggers, so the migration must backfill them with an UPDATE (triggers only see \
                 later writes)"
            )),
            Some(write) => Failure::new(format!(
                "the counters must stay equal to the real counts after every write: {}",
                write.rule()
            ))
            .detail(format!("the grader's write: {}", write.describe())),
        };
        return Err(failure
            .expected(format!("{column} = COUNT(*) for every row of {table}"))
            .got(if wrong.is_empty() {
                format!("{} rows for {} expected", got.len(), expected.len())
            } else {
                wrong.join("; ")
            }));
    }
    Ok(())
}
