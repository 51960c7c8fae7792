//! One HTTP/1.1 keep-alive connection to the service, on hyper's low-level client: no pool, no
//! redirects, nothing between the harness's clock and the socket but hyper itself.

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use std::net::{IpAddr, SocketAddr};
use tokio::net::TcpStream;

/// Where the service listens: `http://host:port`, resolved once.
#[derive(Debug, Clone)]
pub struct Target {
    pub address: SocketAddr,
    /// The `Host` header, as given.
    authority: String,
}

impl Target {
    /// Parses `http://host:port`. Only loopback addresses are accepted unless `allow_remote`:
    /// a load test pointed at someone else's service by a typo is an attack.
    pub fn url(&self) -> String {
        format!("http://{}", self.authority)
    }

    pub fn parse(url: &str, allow_remote: bool) -> Result<Self> {
        let uri: Uri = url
            .parse()
            .with_context(|| format!("`{url}` is not a URL"))?;
        if uri.scheme_str() != Some("http") {
            bail!("`{url}`: only http:// targets are supported");
        }
        let authority = uri
            .authority()
            .with_context(|| format!("`{url}` names no host"))?
            .clone();
        let port = authority.port_u16().unwrap_or(80);
        // An IPv6 literal comes bracketed (`[::1]`); the resolver wants it bare.
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        let address = std::net::ToSocketAddrs::to_socket_addrs(&(host, port))
            .with_context(|| format!("cannot resolve `{host}`"))?
            .next()
            .with_context(|| format!("`{host}` resolves to no address"))?;
        if !allow_remote && !is_loopback(address.ip()) {
            bail!(
                "`{url}` is not a loopback address; pass --allow-remote to load a remote service"
            );
        }
        Ok(Self {
            address,
            authority: authority.to_string(),
        })
    }
}

fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// A response as the harness needs it.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Bytes,
}

pub struct Connection {
    sender: SendRequest<Full<Bytes>>,
    authority: String,
}

impl Connection {
    pub async fn open(target: &Target) -> Result<Self> {
        let stream = TcpStream::connect(target.address)
            .await
            .with_context(|| format!("cannot connect to {}", target.address))?;
        stream.set_nodelay(true)?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
        // The connection task ends when the sender is dropped or the server closes.
        tokio::spawn(connection);
        Ok(Self {
            sender,
            authority: target.authority.clone(),
        })
    }

    /// Sends one request and reads the whole response body.
    pub async fn send(&mut self, method: Method, path: &str, body: Bytes) -> Result<Reply> {
        self.sender.ready().await?;
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header(hyper::header::HOST, &self.authority)
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .body(Full::new(body))?;
        let response = self.sender.send_request(request).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        Ok(Reply { status, body })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_targets_are_accepted_and_others_refused_by_default() {
        assert!(Target::parse("http://127.0.0.1:8080", false).is_ok());
        assert!(Target::parse("http://[::1]:8080", false).is_ok());
        assert!(Target::parse("http://10.1.2.3:8080", false).is_err());
        assert!(Target::parse("http://10.1.2.3:8080", true).is_ok());
        assert!(Target::parse("https://127.0.0.1:8080", false).is_err());
        assert!(Target::parse("not a url", false).is_err());
    }
}
