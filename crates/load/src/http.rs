//! A small HTTP/1.1 client for one keep-alive connection to a loopback server: GET and
//! POST with `Content-Length`, answers framed by `Content-Length`, chunked encoding or the
//! end of the connection. Nothing more (no TLS, no redirects, no proxies). Public so that
//! tests can drive a real server with it (the fault tests of the `zorgkluis` binary).

use std::io;
use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The media type of FHIR's JSON format.
const FHIR_JSON: &str = "application/fhir+json";
/// Largest response head accepted.
const MAX_HEAD: usize = 64 * 1024;
/// Largest response body accepted (a search page of a thousand resources fits easily).
const MAX_BODY: usize = 256 * 1024 * 1024;

/// One answer.
#[derive(Debug)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The header lines, as received (after the status line, without the blank line).
    pub head: String,
    /// The body (chunked encoding removed).
    pub body: Vec<u8>,
}

impl Response {
    /// The value of the first header called `name` (case-insensitive), trimmed.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.split("\r\n").find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// One keep-alive connection; reconnects on the next request after an error or a
/// `Connection: close`.
pub struct Connection {
    addr: SocketAddr,
    /// `host[:port]` as in the base URL, sent as `Host`.
    host: String,
    /// Extra header lines (`Name: value\r\n`), e.g. authorisation.
    extra: String,
    stream: Option<TcpStream>,
    buf: Vec<u8>,
}

fn bad(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

impl Connection {
    /// A connection to `addr`, sending `host` as `Host` and the `extra` header lines
    /// (each `Name: value\r\n`) with every request. Connects on the first request.
    pub fn new(addr: SocketAddr, host: String, extra: String) -> Self {
        Self {
            addr,
            host,
            extra,
            stream: None,
            buf: Vec::with_capacity(16 * 1024),
        }
    }

    /// Sends one FHIR request (`path` is the request target, starting with `/`; a body is
    /// `application/fhir+json`) and reads the whole answer. On any error the connection is
    /// dropped, so the next call reconnects.
    pub async fn request(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
    ) -> io::Result<Response> {
        self.request_typed(method, path, FHIR_JSON, body.map(|b| (FHIR_JSON, b)))
            .await
    }

    /// Like [`request`](Self::request), for requests outside FHIR (OAuth 2, SMART
    /// discovery): `accept` is sent as `Accept`, and the body, if any, as
    /// `(Content-Type, bytes)`.
    pub async fn request_typed(
        &mut self,
        method: &str,
        path: &str,
        accept: &str,
        body: Option<(&str, &[u8])>,
    ) -> io::Result<Response> {
        let result = self.exchange(method, path, accept, body).await;
        match result {
            Ok((response, keep)) => {
                if !keep {
                    self.stream = None;
                }
                Ok(response)
            }
            Err(e) => {
                self.stream = None;
                Err(e)
            }
        }
    }

    async fn exchange(
        &mut self,
        method: &str,
        path: &str,
        accept: &str,
        body: Option<(&str, &[u8])>,
    ) -> io::Result<(Response, bool)> {
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nAccept: {accept}\r\nUser-Agent: zorgkluis-load/{}\r\n{}",
            self.host,
            env!("CARGO_PKG_VERSION"),
            self.extra
        );
        if let Some((content_type, b)) = body {
            head.push_str(&format!("Content-Type: {content_type}\r\n"));
            head.push_str(&format!("Content-Length: {}\r\n", b.len()));
        }
        head.push_str("\r\n");
        let mut out = head.into_bytes();
        if let Some((_, b)) = body {
            out.extend_from_slice(b);
        }
        // A kept-alive connection the server closed in the meantime fails on first use;
        // retry once on a fresh connection then (only for a reused connection).
        let reused = self.stream.is_some();
        match self.send_and_read(&out, method == "HEAD").await {
            Err(e) if reused && is_stale(&e) => {
                self.stream = None;
                self.send_and_read(&out, method == "HEAD").await
            }
            other => other,
        }
    }

    async fn send_and_read(&mut self, out: &[u8], head_only: bool) -> io::Result<(Response, bool)> {
        if self.stream.is_none() {
            let s = TcpStream::connect(self.addr).await?;
            s.set_nodelay(true)?;
            self.stream = Some(s);
            self.buf.clear();
        }
        let stream = self
            .stream
            .as_mut()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "not connected"))?;
        stream.write_all(out).await?;
        read_response(stream, &mut self.buf, head_only).await
    }
}

fn is_stale(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionAborted
    )
}

/// Reads more bytes into `buf`; an error at the end of the stream.
async fn fill(stream: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<()> {
    let mut chunk = [0u8; 16 * 1024];
    let n = stream.read(&mut chunk).await?;
    if n == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the server closed the connection",
        ));
    }
    buf.extend_from_slice(&chunk[..n]);
    Ok(())
}

/// Reads one answer; `buf` keeps what was read beyond it. Returns whether the connection
/// may be used again.
async fn read_response(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    head_only: bool,
) -> io::Result<(Response, bool)> {
    loop {
        let end = loop {
            if let Some(i) = find(buf, b"\r\n\r\n") {
                break i;
            }
            if buf.len() > MAX_HEAD {
                return Err(bad("response head too large"));
            }
            fill(stream, buf).await?;
        };
        let head = std::str::from_utf8(&buf[..end]).map_err(|_| bad("response head not UTF-8"))?;
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or("");
        let mut parts = status_line.split(' ');
        let version = parts.next().unwrap_or("");
        if !version.starts_with("HTTP/1.") {
            return Err(bad(format!("not an HTTP/1.x answer: {status_line:?}")));
        }
        let status: u16 = parts
            .next()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad(format!("no status in {status_line:?}")))?;
        let mut content_length: Option<usize> = None;
        let mut chunked = false;
        let mut close = version == "HTTP/1.0";
        for line in lines {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let (name, value) = (name.trim(), value.trim());
            if name.eq_ignore_ascii_case("content-length") {
                content_length = Some(
                    value
                        .parse()
                        .map_err(|_| bad(format!("bad Content-Length {value:?}")))?,
                );
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.to_ascii_lowercase().contains("chunked");
            } else if name.eq_ignore_ascii_case("connection") {
                let v = value.to_ascii_lowercase();
                if v.contains("close") {
                    close = true;
                } else if v.contains("keep-alive") {
                    close = false;
                }
            }
        }
        let header_lines = head
            .split_once("\r\n")
            .map_or_else(String::new, |(_, h)| h.to_owned());
        buf.drain(..end + 4);
        if (100..200).contains(&status) {
            // An interim answer (100 Continue): the real one follows.
            continue;
        }
        let body = if head_only || status == 204 || status == 304 {
            Vec::new()
        } else if chunked {
            read_chunked(stream, buf).await?
        } else if let Some(n) = content_length {
            if n > MAX_BODY {
                return Err(bad("response body too large"));
            }
            while buf.len() < n {
                fill(stream, buf).await?;
            }
            buf.drain(..n).collect()
        } else {
            // Framed by the end of the connection.
            loop {
                if buf.len() > MAX_BODY {
                    return Err(bad("response body too large"));
                }
                match fill(stream, buf).await {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
                    Err(e) => return Err(e),
                }
            }
            close = true;
            std::mem::take(buf)
        };
        return Ok((
            Response {
                status,
                head: header_lines,
                body,
            },
            !close,
        ));
    }
}

async fn read_chunked(stream: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = loop {
            if let Some(i) = find(buf, b"\r\n") {
                break i;
            }
            if buf.len() > MAX_HEAD {
                return Err(bad("chunk size line too long"));
            }
            fill(stream, buf).await?;
        };
        let line = std::str::from_utf8(&buf[..line_end]).map_err(|_| bad("bad chunk size"))?;
        let size_hex = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_hex, 16)
            .map_err(|_| bad(format!("bad chunk size {line:?}")))?;
        buf.drain(..line_end + 2);
        if size == 0 {
            // Trailers, then an empty line.
            loop {
                let end = loop {
                    if let Some(i) = find(buf, b"\r\n") {
                        break i;
                    }
                    if buf.len() > MAX_HEAD {
                        return Err(bad("trailers too long"));
                    }
                    fill(stream, buf).await?;
                };
                buf.drain(..end + 2);
                if end == 0 {
                    return Ok(body);
                }
            }
        }
        if body.len() + size > MAX_BODY {
            return Err(bad("response body too large"));
        }
        while buf.len() < size + 2 {
            fill(stream, buf).await?;
        }
        body.extend_from_slice(&buf[..size]);
        if &buf[size..size + 2] != b"\r\n" {
            return Err(bad("chunk not followed by CRLF"));
        }
        buf.drain(..size + 2);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use tokio::net::TcpListener;

    /// A server that answers each request on one connection with the next canned answer.
    async fn canned(answers: Vec<&'static [u8]>) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = Vec::new();
            for a in answers {
                while find(&buf, b"\r\n\r\n").is_none() {
                    let mut c = [0u8; 4096];
                    let n = s.read(&mut c).await.unwrap();
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&c[..n]);
                }
                let end = find(&buf, b"\r\n\r\n").unwrap();
                buf.drain(..end + 4);
                s.write_all(a).await.unwrap();
            }
        });
        addr
    }

    #[tokio::test]
    async fn client_reads_content_length_and_chunked_answers_on_one_connection() {
        let addr = canned(vec![
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
            b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nX-T: 1\r\n\r\n",
            b"HTTP/1.1 204 No Content\r\n\r\n",
        ])
        .await;
        let mut c = Connection::new(addr, addr.to_string(), String::new());
        let a = c.request("GET", "/a", None).await.unwrap();
        assert_eq!((a.status, a.body.as_slice()), (200, &b"hello"[..]));
        assert_eq!(a.header("content-LENGTH"), Some("5"));
        assert_eq!(a.header("retry-after"), None);
        let b = c.request("POST", "/b", Some(b"{}")).await.unwrap();
        assert_eq!((b.status, b.body.as_slice()), (404, &b"abcde"[..]));
        let d = c.request("GET", "/c", None).await.unwrap();
        assert_eq!(d.status, 204);
        assert!(d.body.is_empty());
    }

    #[tokio::test]
    async fn client_reads_an_answer_framed_by_the_end_of_the_connection() {
        let addr = canned(vec![
            b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{\"a\":1}",
        ])
        .await;
        let mut c = Connection::new(addr, addr.to_string(), String::new());
        let a = c.request("GET", "/", None).await.unwrap();
        assert_eq!(a.body, b"{\"a\":1}");
    }
}
