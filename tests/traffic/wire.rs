//! A raw HTTP/1.1 response reader, for clients that write the wire format themselves.

use bytes::Bytes;
use http::{HeaderMap, HeaderName, StatusCode};
use tokio::io::{AsyncBufReadExt as _, AsyncRead, AsyncReadExt as _, BufReader};

use super::Answer;

/// Reads one HTTP/1.1 response, framed by `content-length` or chunked; `None` at a clean end
/// of stream before it starts.
pub async fn read_response<R: AsyncRead + Unpin>(reader: &mut BufReader<R>) -> Option<Answer> {
    let mut line = String::new();
    if reader.read_line(&mut line).await.unwrap() == 0 {
        return None;
    }
    let status = line
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse::<u16>().ok())
        .unwrap_or_else(|| panic!("status line {line:?}"));
    let mut headers = HeaderMap::new();
    loop {
        line.clear();
        reader.read_line(&mut line).await.unwrap();
        let field = line.trim_end_matches("\r\n");
        if field.is_empty() {
            break;
        }
        let (name, value) = field.split_once(':').expect("a header field");
        let name = HeaderName::from_bytes(name.as_bytes()).unwrap();
        headers.append(name, value.trim().parse().unwrap());
    }
    let mut body = Vec::new();
    let chunked = headers
        .get("transfer-encoding")
        .is_some_and(|te| te == "chunked");
    if chunked {
        loop {
            line.clear();
            reader.read_line(&mut line).await.unwrap();
            let size = line.trim_end().split(';').next().unwrap();
            let size = usize::from_str_radix(size, 16).expect("a chunk size");
            if size == 0 {
                // No trailers are sent here: the blank line ends the message.
                line.clear();
                reader.read_line(&mut line).await.unwrap();
                assert_eq!(line, "\r\n");
                break;
            }
            let start = body.len();
            body.resize(start + size + 2, 0);
            reader.read_exact(&mut body[start..]).await.unwrap();
            assert_eq!(&body[start + size..], b"\r\n", "chunk framing");
            body.truncate(start + size);
        }
    } else {
        let length: usize = headers["content-length"].to_str().unwrap().parse().unwrap();
        body.resize(length, 0);
        reader.read_exact(&mut body).await.unwrap();
    }
    Some(Answer {
        status: StatusCode::from_u16(status).unwrap(),
        headers,
        body: Bytes::from(body),
    })
}
