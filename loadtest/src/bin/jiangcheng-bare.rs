//! `jiangcheng-bare`: the yardstick for the service's throughput. It reads the request body and
//! answers a fixed JSON body of `--body-bytes` bytes, with no middleware and no logic, on the
//! same actix-web as the service: the most an actix-web JSON endpoint can do on the machine.
//! The decide/bare ratio compares the service against it (see `loadtest/bare-compare.sh`).

use actix_web::{web, App, HttpResponse, HttpServer};
use clap::Parser;

#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:18080")]
    listen: String,
    /// Size of the answer in bytes: set it to the size of the service's answer to a miss.
    #[arg(long, default_value_t = 400)]
    body_bytes: usize,
    /// Worker threads; one, like the service measured on one core.
    #[arg(long, default_value_t = 1)]
    workers: usize,
    /// The path answered to POST; the service's decide path, so one request file serves both.
    #[arg(long, default_value = "/v1/decide")]
    path: String,
}

/// A decision-shaped JSON object padded to `bytes` bytes (never shorter than its frame).
fn padded_body(bytes: usize) -> String {
    let mut body = String::from("{\"decision\":\"allow\",\"pad\":\"");
    let padding = bytes.saturating_sub(body.len() + 2);
    body.extend(std::iter::repeat_n('x', padding));
    body.push_str("\"}");
    body
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let body = web::Bytes::from(padded_body(args.body_bytes));
    let path = args.path;
    HttpServer::new(move || {
        let body = body.clone();
        App::new().route(
            &path,
            web::post().to(move |request: web::Bytes| {
                let body = body.clone();
                async move {
                    let _ = request.len();
                    HttpResponse::Ok()
                        .content_type("application/json")
                        .body(body)
                }
            }),
        )
    })
    .workers(args.workers)
    .bind(args.listen)?
    .run()
    .await
}

#[cfg(test)]
mod tests {
    use super::padded_body;

    #[test]
    fn the_body_has_the_asked_size_and_is_json() {
        for bytes in [40, 327, 1000] {
            let body = padded_body(bytes);
            assert_eq!(body.len(), bytes);
            serde_json::from_str::<serde_json::Value>(&body).expect("JSON");
        }
        assert_eq!(padded_body(0), "{\"decision\":\"allow\",\"pad\":\"\"}");
    }
}
