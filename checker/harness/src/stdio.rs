//! JSON lines over stdin/stdout: the protocol of every algorithmic exercise.
//!
//! The grader writes one JSON value per line on the program's stdin; the program answers each with exactly one
//! JSON line on stdout, in order; end of input means shut down. Debug output belongs on stderr (`eprintln!`):
//! anything else on stdout breaks the protocol.

use std::io::{self, BufRead, BufWriter, Write};

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// Serves `handle` over stdin/stdout until end of input: one reply line per request line.
///
/// A line that is not valid JSON for `Request` gets `{"error":"bad request: …"}` and the loop goes on, so one
/// malformed line never ends the session. Blank lines are skipped.
pub fn serve_json_lines<Request, Reply>(handle: impl FnMut(Request) -> Reply)
where
    Request: DeserializeOwned,
    Reply: Serialize,
{
    let stdin = io::stdin().lock();
    let stdout = io::stdout().lock();
    if let Err(e) = serve_json_lines_on(stdin, stdout, handle) {
        // A closed stdout means the grader has gone: nothing left to do.
        eprintln!("stdio harness: {e}");
    }
}

/// [`serve_json_lines`] over any reader and writer (for tests).
pub fn serve_json_lines_on<Request, Reply>(
    input: impl BufRead,
    output: impl Write,
    mut handle: impl FnMut(Request) -> Reply,
) -> io::Result<()>
where
    Request: DeserializeOwned,
    Reply: Serialize,
{
    let mut output = BufWriter::new(output);
    for line in input.lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let reply: Value = match serde_json::from_str::<Request>(&line) {
            Ok(request) => serde_json::to_value(handle(request))
                .unwrap_or_else(|e| json!({ "error": format!("reply is not JSON: {e}") })),
            Err(e) => json!({ "error": format!("bad request: {e}") }),
        };
        serde_json::to_writer(&mut output, &reply)?;
        output.write_all(b"\n")?;
        // Flush per reply: the grader waits for each answer before sending the next request.
        output.flush()?;
    }
    Ok(())
}

/// Decodes a hex string (how bytes travel in JSON lines), or says which character is wrong.
pub fn from_hex(text: &str) -> Result<Vec<u8>, String> {
    if !text.len().is_multiple_of(2) {
        return Err(format!("hex string has odd length {}", text.len()));
    }
    (0..text.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(&text[i..i + 2], 16)
                .map_err(|_| format!("not hex at position {i}: {:?}", &text[i..i + 2]))
        })
        .collect()
}

/// Encodes bytes as lowercase hex.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct Add {
        a: i64,
        b: i64,
    }

    // One reply per request, in order; a malformed line gets an error reply and the loop goes on.
    #[test]
    fn answers_each_line_and_survives_bad_input() {
        let input = b"{\"a\":1,\"b\":2}\nnot json\n\n{\"a\":5,\"b\":-5}\n";
        let mut output = Vec::new();
        serve_json_lines_on(
            &input[..],
            &mut output,
            |req: Add| json!({ "sum": req.a + req.b }),
        )
        .unwrap();
        let lines: Vec<Value> = String::from_utf8(output)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines[0], json!({"sum": 3}));
        assert!(
            lines[1]["error"]
                .as_str()
                .unwrap()
                .starts_with("bad request")
        );
        assert_eq!(lines[2], json!({"sum": 0}));
        assert_eq!(lines.len(), 3);
    }

    // Hex round-trips, and bad hex says where it went wrong.
    #[test]
    fn hex_round_trips() {
        assert_eq!(
            from_hex(&to_hex(&[0, 1, 254, 255])).unwrap(),
            vec![0, 1, 254, 255]
        );
        assert!(from_hex("0g").unwrap_err().contains("position 0"));
        assert!(from_hex("abc").is_err());
    }
}
