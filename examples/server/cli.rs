//! The demo server's command line: flags, `PORT`, and what they ask for.

pub const USAGE: &str = "\
usage: server [--port N] [--public] [--allow-host NAME]...
              [--production [--tls-cert PATH --tls-key PATH] [--https-port N]
               [--canonical-host NAME]]
       server --health-check [--port N]

  --port N               plain HTTP port (default: $PORT, else 8080)
  --public               bind 0.0.0.0 (every interface) instead of 127.0.0.1
  --allow-host NAME      answer for NAME too (besides localhost and 127.0.0.1)
  --production           switch development mode off: plain HTTP is redirected to HTTPS
  --tls-cert PATH        PEM certificate chain; with --tls-key, serve HTTPS
  --tls-key PATH         PEM private key
  --https-port N         HTTPS port (default 8443)
  --canonical-host NAME  host that plain HTTP is redirected to (default localhost)
  --health-check         ask a running server on 127.0.0.1 for /health; exit 0 on a 200
                         (a container's HEALTHCHECK, with no curl in the image)
  -h, --help             print this help";

/// Where to listen and how strictly, from the command line and `PORT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Plain HTTP port; 0 lets the system pick one.
    pub port: u16,
    /// Bind `0.0.0.0` instead of `127.0.0.1`.
    pub public: bool,
    /// Hosts answered besides `localhost` and `127.0.0.1`.
    pub allow_hosts: Vec<String>,
    /// Development mode off: HTTPS enforced, HSTS sent.
    pub production: bool,
    /// Certificate chain and key files, to serve HTTPS.
    pub tls: Option<(String, String)>,
    /// HTTPS port.
    pub https_port: u16,
    /// Host that plain HTTP is redirected to.
    pub canonical_host: String,
}

impl Default for Config {
    /// The development defaults: `cargo run --example server` with no arguments.
    fn default() -> Self {
        match parse_args(std::iter::empty(), None) {
            Ok(Command::Serve(config)) => config,
            _ => unreachable!("no arguments always parse"),
        }
    }
}

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    /// Listen with this configuration.
    Serve(Config),
    /// Print the usage and exit.
    Help,
    /// Ask the server on this local port for `/health`, and exit with the verdict.
    HealthCheck(u16),
}

/// Parses the arguments (without the program name); `env_port` is the value of `PORT`, read
/// only when `--port` is absent (an empty `PORT` counts as unset). The error is a one-line
/// reason, shown above the usage.
pub fn parse_args(
    args: impl IntoIterator<Item = String>,
    env_port: Option<String>,
) -> Result<Command, String> {
    let parse_port = |value: &str, from: &str| {
        value
            .parse::<u16>()
            .map_err(|_| format!("{from}: `{value}` is not a port number (0-65535)"))
    };
    let mut port = None;
    let mut config = Config {
        port: 8080,
        public: false,
        allow_hosts: Vec::new(),
        production: false,
        tls: None,
        https_port: 8443,
        canonical_host: "localhost".to_owned(),
    };
    let (mut cert, mut key) = (None, None);
    let mut health_check = false;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => {
                (flag.to_owned(), Some(value.to_owned()))
            }
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "--health-check" => health_check = true,
            "--public" => config.public = true,
            "--production" => config.production = true,
            "--port" => port = Some(parse_port(&value("--port")?, "--port")?),
            "--https-port" => {
                config.https_port = parse_port(&value("--https-port")?, "--https-port")?;
            }
            "--allow-host" => config.allow_hosts.push(value("--allow-host")?),
            "--canonical-host" => config.canonical_host = value("--canonical-host")?,
            "--tls-cert" => cert = Some(value("--tls-cert")?),
            "--tls-key" => key = Some(value("--tls-key")?),
            _ => return Err(format!("unknown argument `{arg}`")),
        }
    }
    config.tls = match (cert, key) {
        (Some(cert), Some(key)) if config.production => Some((cert, key)),
        (Some(_), Some(_)) => return Err("--tls-cert and --tls-key need --production".into()),
        (None, None) => None,
        _ => return Err("--tls-cert and --tls-key go together".into()),
    };
    config.port = match (port, env_port.filter(|p| !p.is_empty())) {
        (Some(port), _) => port,
        (None, Some(env)) => parse_port(&env, "PORT")?,
        (None, None) => 8080,
    };
    if health_check {
        return Ok(Command::HealthCheck(config.port));
    }
    Ok(Command::Serve(config))
}
