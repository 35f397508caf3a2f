//! `tenax get URL` (or `tenax URL`): one request as curl makes it; the body to stdout or a file,
//! `-w` to say what happened.

use std::time::Instant;

use crate::args;
use crate::output::{OutputArgs, Sink};
use crate::report::{Outcome, exit, exit_code, timings_text};

pub use crate::client_args::{ClientArgs, ConnArgs};

/// Options of `tenax get`.
#[derive(clap::Args, Debug)]
pub struct GetArgs {
    /// The URL (http:// is assumed when there is no scheme)
    url: String,
    /// Method [default: GET; POST with data, PUT with -T, HEAD with -I]
    #[arg(short = 'X', long = "request", value_name = "METHOD")]
    method: Option<String>,
    /// Request header, 'Name: value' (repeatable)
    #[arg(short = 'H', long = "header", value_name = "HEADER")]
    headers: Vec<String>,
    /// The Referer header
    #[arg(short = 'e', long = "referer", value_name = "URL")]
    referer: Option<String>,
    #[command(flatten)]
    send: crate::send::SendArgs,
    #[command(flatten)]
    output: OutputArgs,
    /// Exit 22, printing no body, on an HTTP status >= 400
    #[arg(short = 'f', long = "fail")]
    fail: bool,
    /// After the transfer, write FORMAT to stdout: curl's variables (%{http_code},
    /// %{time_total}, …), ours (%{num_retries}, %{time_pool}, %{error_phase}), %{json}
    #[arg(short = 'w', long = "write-out", value_name = "FORMAT")]
    write_out: Option<String>,
    /// Print phase timings to stderr
    #[arg(long)]
    timings: bool,
    #[command(flatten)]
    client: ClientArgs,
}

fn usage(msg: impl std::fmt::Display) -> u8 {
    eprintln!("tenax: {msg}");
    exit::USAGE
}

/// The error and its causes, on one line: `tenax: what: why: deeper why`.
pub fn print_error(e: &dyn std::error::Error) {
    eprintln!("tenax: {}", crate::report::error_chain(e));
}

pub fn run(args: GetArgs) -> u8 {
    crate::report::run_command(get(args))
}

async fn get(args: GetArgs) -> u8 {
    if args.output.include {
        crate::verbose::keep_heads();
    }
    let jar = match args.send.jar() {
        Ok(j) => j,
        Err((code, msg)) => return args.refuse(code, msg),
    };
    let client = match args.client.builder().and_then(|mut b| {
        if let Some(jar) = &jar {
            b = b.cookie_provider(jar.clone());
        }
        b.build().map_err(|e| e.to_string())
    }) {
        Ok(c) => c,
        Err(e) => return usage(e),
    };
    let url = match args.send.query_url(&args::url(&args.url)) {
        Ok(u) => u,
        Err((code, msg)) => return args.refuse(code, msg),
    };
    let req = match args.request(&client, &url).await {
        Ok(r) => r,
        Err((code, msg)) => return args.refuse(code, msg),
    };
    let started = Instant::now();
    // Shown and reported with its password (if any) redacted.
    let mut outcome = Outcome::new(tenax::redact_url(&url).into_owned());
    let mut code = args.exchange(req, &url, &mut outcome).await;
    outcome.elapsed = started.elapsed();
    if args.timings
        && let Some(t) = &outcome.timings
    {
        eprint!("{}", timings_text(t, outcome.reused));
    }
    client.close().await;
    if let Err((c, msg)) = args.send.save_jar(jar.as_deref()) {
        code = args.refuse(c, msg);
    }
    if let Some(format) = &args.write_out {
        let facts = crate::writeout::Facts {
            outcome: &outcome,
            exit_code: code,
            redirects: crate::verbose::redirects(),
        };
        match crate::writeout::render(format, &facts) {
            Ok(text) => print!("{text}"),
            Err(e) => return usage(e),
        }
    }
    code
}

impl GetArgs {
    /// A message (unless `-s`) and an exit code of curl's.
    fn refuse(&self, code: u8, msg: impl std::fmt::Display) -> u8 {
        if self.client.shows_errors() {
            eprintln!("tenax: {msg}");
        }
        code
    }

    /// The method the flags ask for.
    fn method(&self) -> Result<tenax::Method, (u8, String)> {
        Ok(match &self.method {
            Some(m) => tenax::Method::from_bytes(m.as_bytes())
                .map_err(|_| (exit::USAGE, format!("{m:?} is not a valid method")))?,
            None if self.output.head => tenax::Method::HEAD,
            None if self.send.uploads() => tenax::Method::PUT,
            None if self.send.has_body() => tenax::Method::POST,
            None => tenax::Method::GET,
        })
    }

    /// The request: method, headers, body, credentials and cookies.
    async fn request(
        &self,
        client: &tenax::Client,
        url: &str,
    ) -> Result<tenax::RequestBuilder, (u8, String)> {
        let mut req = client.request(self.method()?, url);
        if let Some(d) = self.client.deadline() {
            req = req.deadline(d);
        }
        let mut has_content_type = false;
        for h in &self.headers {
            let (name, value) = args::header(h).map_err(|e| (exit::USAGE, e))?;
            has_content_type |= name.eq_ignore_ascii_case("content-type");
            req = req.header(name, value);
        }
        if let Some(r) = &self.referer {
            req = req.header("referer", r.as_str());
        }
        self.send.apply(req, has_content_type).await
    }

    /// Sends the request and delivers the response; fills `outcome` and returns the exit code.
    async fn exchange(&self, req: tenax::RequestBuilder, url: &str, outcome: &mut Outcome) -> u8 {
        let fail = |outcome: &mut Outcome, e: tenax::Error| {
            let code = exit_code(&e);
            if self.client.shows_errors() {
                print_error(&e);
            }
            outcome.attempts = e.attempts();
            outcome.error = Some(e);
            code
        };
        let mut res = match req.send().await {
            Ok(r) => r,
            Err(e) => return fail(outcome, e),
        };
        outcome.status = Some(res.status().as_u16());
        outcome.attempts = res.attempts();
        outcome.version = Some(res.version());
        outcome.tls_version = res.tls_version();
        outcome.reused = res.reused();
        outcome.hedges = self.client.hedges().then(|| res.hedges());
        outcome.timings = Some(*res.timings());
        if self.fail
            && let Err(e) = res.error_for_status_ref()
        {
            return fail(outcome, e);
        }
        let mut sink = match self.output.open(url) {
            Ok(s) => s,
            Err((code, msg)) => return self.refuse(code, msg),
        };
        let delivered = self.deliver(&mut res, &mut sink, outcome).await;
        outcome.timings = Some(*res.timings());
        match delivered {
            Ok(()) => 0,
            Err(Delivery::Body(e)) => fail(outcome, e),
            Err(Delivery::Write((code, msg))) => self.refuse(code, msg),
        }
    }

    /// The head (with `-i`/`-I`) and the body (but with `-I`), into `sink`.
    async fn deliver(
        &self,
        res: &mut tenax::Response,
        sink: &mut Sink,
        outcome: &mut Outcome,
    ) -> Result<(), Delivery> {
        if self.output.include || self.output.head {
            sink.head(res).map_err(Delivery::Write)?;
        }
        if !self.output.head {
            while let Some(chunk) = res.chunk().await.map_err(Delivery::Body)? {
                outcome.bytes += chunk.len() as u64;
                sink.chunk(&chunk).map_err(Delivery::Write)?;
            }
        }
        sink.flush().map_err(Delivery::Write)
    }
}

/// Why a response was not delivered whole.
enum Delivery {
    Body(tenax::Error),
    Write((u8, String)),
}
