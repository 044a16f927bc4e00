//! Helpers any HTTP grader could use, kept here until the framework has them: one keep-alive connection that
//! sends many requests (pipelined in batches) and records every exchange in the transcript.
//!
//! `Server::http` opens a connection per request, and `Server::read_response` wraps the stream in a fresh
//! buffer each time, which loses the bytes of a pipelined next response. Thousands of requests need one
//! connection and one buffer.

use std::io::{BufReader, Write};
use std::net::TcpStream;

use backlings_grade::http::{self, Request, Response};
use backlings_grade::{Failure, Server};

/// How many requests go out before their responses are read. Small enough that the responses fit in the
/// socket buffers (a server blocked on a full send buffer stops reading, and both sides would wait forever).
const BATCH: usize = 64;

/// One keep-alive connection to the program under test.
pub struct KeepAlive {
    writer: TcpStream,
    reader: BufReader<TcpStream>,
}

impl KeepAlive {
    /// Opens a connection to `server` (with the framework's timeouts).
    pub fn open(server: &mut Server) -> Result<Self, Failure> {
        let writer = server.connect()?;
        let reader = writer
            .try_clone()
            .map_err(|e| Failure::new(format!("could not use the connection: {e}")))?;
        Ok(KeepAlive {
            writer,
            reader: BufReader::new(reader),
        })
    }

    /// Sends `requests` in order on this connection and returns the responses in order. Only a request that
    /// gets no valid response is recorded in the transcript (with what happened): recording thousands of
    /// good exchanges costs more than sending them, so the caller records the ones a failure needs, with
    /// [`record`].
    pub fn send_all(
        &mut self,
        server: &mut Server,
        requests: &[Request],
    ) -> Result<Vec<Response>, Failure> {
        let mut responses = Vec::with_capacity(requests.len());
        for batch in requests.chunks(BATCH) {
            let bytes: Vec<u8> = batch.iter().flat_map(Request::to_bytes).collect();
            if let Err(e) = self.writer.write_all(&bytes) {
                server.ensure_alive()?;
                return Err(Failure::new(format!(
                    "could not send the request (the connection is closed?): {e}"
                ))
                .detail("the server must keep an HTTP/1.1 connection open between requests"));
            }
            for request in batch {
                match http::read_response_from(&mut self.reader, request.method == "HEAD") {
                    Ok(response) => responses.push(response),
                    Err(e) => {
                        server.record(&http::printable(&request.to_bytes()), &format!("<{e}>"));
                        server.ensure_alive()?;
                        return Err(Failure::new(format!(
                            "no valid HTTP response came back: {e}"
                        )));
                    }
                }
            }
        }
        Ok(responses)
    }

    /// Sends one request on this connection and returns its response.
    pub fn send(&mut self, server: &mut Server, request: &Request) -> Result<Response, Failure> {
        let mut responses = self.send_all(server, std::slice::from_ref(request))?;
        Ok(responses.remove(0))
    }
}

/// Adds one exchange to the transcript, as `Server::http` would have.
pub fn record(server: &Server, request: &Request, response: &Response) {
    server.record(&http::printable(&request.to_bytes()), &response.summary());
}

/// How many exchanges [`send_checked`] puts in the transcript when a check fails (the framework shows 8).
const RECENT: usize = 8;

/// Sends `requests` in order on `connection` and checks each response with `check(index, response)`. Only
/// when a check fails are the exchanges up to the failing one (the last few) recorded in the transcript, so
/// the report shows what led to it without the cost of recording every good exchange.
pub fn send_checked(
    connection: &mut KeepAlive,
    server: &mut Server,
    requests: &[Request],
    mut check: impl FnMut(usize, &Response) -> Result<(), Failure>,
) -> Result<Vec<Response>, Failure> {
    let responses = connection.send_all(server, requests)?;
    for (index, response) in responses.iter().enumerate() {
        if let Err(failure) = check(index, response) {
            let first = (index + 1).saturating_sub(RECENT);
            for (request, response) in requests[first..=index]
                .iter()
                .zip(&responses[first..=index])
            {
                record(server, request, response);
            }
            return Err(failure);
        }
    }
    Ok(responses)
}
