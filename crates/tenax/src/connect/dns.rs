//! Name resolution: the [`Resolve`] trait, the system resolver, and the cache in front of it
//! — fixed TTL (the system resolver reports none), concurrent lookups coalesced, answers
//! served stale for a bounded time when a refresh fails, failures cached briefly, static
//! overrides (curl's `--resolve`).

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A resolution in progress: the addresses of a host.
pub type Resolving<'a> = Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send + 'a>>;

/// A resolution in progress that knows how long its answer is valid (the records' TTL).
pub type ResolvingWithTtl<'a> =
    Pin<Box<dyn Future<Output = std::io::Result<(Vec<IpAddr>, Option<Duration>)>> + Send + 'a>>;

/// Turns a host name into addresses. Implement it to use another resolver
/// ([`ClientBuilder::resolver`](crate::ClientBuilder::resolver)); the client's DNS cache sits
/// in front of it. IP literals never reach it.
pub trait Resolve: Send + Sync + 'static {
    /// The addresses of `host`.
    fn resolve<'a>(&'a self, host: &'a str) -> Resolving<'a>;

    /// The addresses of `host` and how long they may be used, for resolvers that know the
    /// records' TTL; the cache clamps it with
    /// [`ClientBuilder::dns_ttl_bounds`](crate::ClientBuilder::dns_ttl_bounds). By default,
    /// [`resolve`](Self::resolve) with no TTL (the cache's fixed TTL applies).
    fn resolve_with_ttl<'a>(&'a self, host: &'a str) -> ResolvingWithTtl<'a> {
        Box::pin(async move { self.resolve(host).await.map(|ips| (ips, None)) })
    }
}

/// The operating system's resolver (`getaddrinfo`, on tokio's blocking pool).
#[derive(Debug, Default)]
pub(crate) struct SystemResolver;

impl Resolve for SystemResolver {
    fn resolve<'a>(&'a self, host: &'a str) -> Resolving<'a> {
        Box::pin(async move {
            Ok(tokio::net::lookup_host((host, 0))
                .await?
                .map(|a| a.ip())
                .collect())
        })
    }
}

/// The cache's settings.
#[derive(Clone, Copy, Debug)]
pub(crate) struct DnsConfig {
    pub(crate) enabled: bool,
    pub(crate) ttl: Duration,
    pub(crate) stale: Duration,
    pub(crate) negative_ttl: Duration,
    /// Bounds for TTLs the resolver reports.
    pub(crate) min_ttl: Duration,
    pub(crate) max_ttl: Duration,
}

impl Default for DnsConfig {
    fn default() -> Self {
        DnsConfig {
            enabled: true,
            ttl: Duration::from_secs(60),
            stale: Duration::from_secs(300),
            negative_ttl: Duration::from_secs(5),
            min_ttl: Duration::from_secs(1),
            max_ttl: Duration::from_secs(3600),
        }
    }
}

/// What the DNS cache did, from [`Client::dns_stats`](crate::Client::dns_stats).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DnsStats {
    /// Answers served from the cache (fresh, or a cached failure).
    pub hits: u64,
    /// Lookups that went to the resolver (one per coalesced group).
    pub lookups: u64,
    /// Answers served stale because a refresh failed.
    pub stale: u64,
    /// Lookups that failed.
    pub failures: u64,
}

/// The most host names the cache keeps. When a new name would pass it, names whose answers
/// (stale window included) have expired go first, then the eighth of the names that expire
/// soonest; names with a lookup in flight stay. A batch over a million host names keeps the
/// cache at this size.
pub(crate) const MAX_HOSTS: usize = 10_000;

type Answer = Result<(Arc<[IpAddr]>, Option<Duration>), Arc<str>>;

struct Entry {
    /// The last good answer, kept for serving stale.
    ips: Option<Arc<[IpAddr]>>,
    /// The last failure, served until `fresh_until` when there is nothing to serve stale.
    error: Option<Arc<str>>,
    fresh_until: Instant,
    stale_until: Instant,
    inflight: Option<Arc<tokio::sync::OnceCell<Answer>>>,
}

/// The resolver with its cache and overrides, shared by a client's connections.
pub(crate) struct DnsCache {
    resolver: Arc<dyn Resolve>,
    cfg: DnsConfig,
    /// Static answers, by host and optionally port.
    overrides: HashMap<(String, Option<u16>), Vec<IpAddr>>,
    entries: Mutex<HashMap<String, Entry>>,
    hits: AtomicU64,
    lookups: AtomicU64,
    stale: AtomicU64,
    failures: AtomicU64,
}

impl DnsCache {
    pub(crate) fn new(
        resolver: Arc<dyn Resolve>,
        cfg: DnsConfig,
        overrides: HashMap<(String, Option<u16>), Vec<IpAddr>>,
    ) -> DnsCache {
        DnsCache {
            resolver,
            cfg,
            overrides,
            entries: Mutex::new(HashMap::new()),
            hits: AtomicU64::new(0),
            lookups: AtomicU64::new(0),
            stale: AtomicU64::new(0),
            failures: AtomicU64::new(0),
        }
    }

    pub(crate) fn stats(&self) -> DnsStats {
        DnsStats {
            hits: self.hits.load(Ordering::Relaxed),
            lookups: self.lookups.load(Ordering::Relaxed),
            stale: self.stale.load(Ordering::Relaxed),
            failures: self.failures.load(Ordering::Relaxed),
        }
    }

    /// The addresses for `host:port`: an override, the cache, or the resolver.
    pub(crate) async fn lookup(&self, host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
        let with_port = |ips: &[IpAddr]| ips.iter().map(|ip| SocketAddr::new(*ip, port)).collect();
        let key = host.to_ascii_lowercase();
        if let Some(ips) = self
            .overrides
            .get(&(key.clone(), Some(port)))
            .or_else(|| self.overrides.get(&(key.clone(), None)))
        {
            return Ok(with_port(ips));
        }
        if !self.cfg.enabled {
            self.lookups.fetch_add(1, Ordering::Relaxed);
            return self
                .resolver
                .resolve(host)
                .await
                .map(|ips| with_port(&ips))
                .inspect_err(|_| {
                    self.failures.fetch_add(1, Ordering::Relaxed);
                });
        }
        let cell = match self.cached(&key) {
            Cached::Answer(res) => return res.map(|ips| with_port(&ips)),
            Cached::Ask(cell) => cell,
        };
        // One lookup for everyone waiting on this cell; if its owner is cancelled, the next
        // waiter runs it.
        let answer = cell
            .get_or_init(|| async {
                self.lookups.fetch_add(1, Ordering::Relaxed);
                match self.resolver.resolve_with_ttl(host).await {
                    Ok((ips, _)) if ips.is_empty() => {
                        Err(Arc::from("the resolver returned no addresses"))
                    }
                    Ok((ips, ttl)) => Ok((Arc::from(ips), ttl)),
                    Err(e) => Err(Arc::from(e.to_string())),
                }
            })
            .await
            .clone();
        self.record(&key, &cell, answer).map(|ips| with_port(&ips))
    }

    /// What the cache has for `key`: an answer (fresh, a cached failure, or stale while a
    /// refresh failed), or the cell of the lookup to join or run.
    fn cached(&self, key: &str) -> Cached {
        let now = Instant::now();
        let mut entries = crate::sync::lock(&self.entries);
        if entries.len() >= MAX_HOSTS && !entries.contains_key(key) {
            evict(&mut entries, now);
        }
        let entry = entries.entry(key.to_string()).or_insert_with(|| Entry {
            ips: None,
            error: None,
            fresh_until: now,
            stale_until: now,
            inflight: None,
        });
        if now < entry.fresh_until {
            return Cached::Answer(match (&entry.ips, &entry.error) {
                (Some(ips), None) => {
                    self.hits.fetch_add(1, Ordering::Relaxed);
                    Ok(ips.clone())
                }
                // The refresh failed: the old answer, while the stale window lasts.
                (Some(ips), Some(_)) if now < entry.stale_until => {
                    self.stale.fetch_add(1, Ordering::Relaxed);
                    Ok(ips.clone())
                }
                (_, Some(e)) => {
                    self.hits.fetch_add(1, Ordering::Relaxed);
                    Err(std::io::Error::other(e.to_string()))
                }
                (None, None) => Err(std::io::Error::other("no addresses")),
            });
        }
        Cached::Ask(
            entry
                .inflight
                .get_or_insert_with(|| Arc::new(tokio::sync::OnceCell::new()))
                .clone(),
        )
    }

    /// Keeps a lookup's answer (when this cell's lookup is the entry's current one) and says
    /// what the caller gets: the answer, or the stale one while a failed refresh allows it.
    fn record(
        &self,
        key: &str,
        cell: &Arc<tokio::sync::OnceCell<Answer>>,
        answer: Answer,
    ) -> std::io::Result<Arc<[IpAddr]>> {
        let now = Instant::now();
        let mut entries = crate::sync::lock(&self.entries);
        let Some(entry) = entries.get_mut(key) else {
            // Evicted meanwhile (the cache was full and the lookup done): the answer, uncached.
            return answer
                .map(|(ips, _)| ips)
                .map_err(|e| std::io::Error::other(e.to_string()));
        };
        let first = entry
            .inflight
            .as_ref()
            .is_some_and(|c| Arc::ptr_eq(c, cell));
        match answer {
            Ok((ips, ttl)) => {
                if first {
                    let ttl = ttl.map_or(self.cfg.ttl, |t| {
                        t.clamp(self.cfg.min_ttl, self.cfg.max_ttl.max(self.cfg.min_ttl))
                    });
                    entry.inflight = None;
                    entry.ips = Some(ips.clone());
                    entry.error = None;
                    entry.fresh_until = now + ttl;
                    entry.stale_until = now + ttl + self.cfg.stale;
                }
                Ok(ips)
            }
            Err(e) => {
                if first {
                    entry.inflight = None;
                    self.failures.fetch_add(1, Ordering::Relaxed);
                    // Ask again only after the negative TTL, stale answer or not.
                    entry.fresh_until = now + self.cfg.negative_ttl;
                    if now >= entry.stale_until {
                        entry.ips = None;
                    }
                    entry.error = Some(e.clone());
                }
                match &entry.ips {
                    Some(ips) if now < entry.stale_until => {
                        self.stale.fetch_add(1, Ordering::Relaxed);
                        Ok(ips.clone())
                    }
                    _ => Err(std::io::Error::other(e.to_string())),
                }
            }
        }
    }
}

/// What the cache holds for a name.
enum Cached {
    Answer(std::io::Result<Arc<[IpAddr]>>),
    /// The lookup to join (or run).
    Ask(Arc<tokio::sync::OnceCell<Answer>>),
}

/// Makes room in a full cache: expired names first, then the eighth that expire soonest
/// (amortised: one pass of the map frees room for many inserts).
fn evict(entries: &mut HashMap<String, Entry>, now: Instant) {
    entries.retain(|_, e| e.inflight.is_some() || now < e.stale_until);
    if entries.len() < MAX_HOSTS {
        return;
    }
    let mut by_expiry: Vec<(Instant, String)> = entries
        .iter()
        .filter(|(_, e)| e.inflight.is_none())
        .map(|(k, e)| (e.stale_until, k.clone()))
        .collect();
    let n = (MAX_HOSTS / 8).min(by_expiry.len());
    if n == 0 {
        return;
    }
    by_expiry.select_nth_unstable(n - 1);
    for (_, k) in &by_expiry[..n] {
        entries.remove(k);
    }
}

/// A resolver speaking DNS itself (hickory-dns), which knows the records' TTLs: the cache
/// uses them, clamped by [`ClientBuilder::dns_ttl_bounds`](crate::ClientBuilder::dns_ttl_bounds).
#[cfg(feature = "hickory-dns")]
#[cfg_attr(docsrs, doc(cfg(feature = "hickory-dns")))]
pub struct HickoryResolver {
    inner: hickory_resolver::Resolver<hickory_resolver::net::runtime::TokioRuntimeProvider>,
}

#[cfg(feature = "hickory-dns")]
#[cfg_attr(docsrs, doc(cfg(feature = "hickory-dns")))]
impl HickoryResolver {
    /// With the system's name servers (`/etc/resolv.conf`).
    pub fn system() -> crate::Result<HickoryResolver> {
        let inner = hickory_resolver::Resolver::builder_tokio()
            .and_then(|b| b.build())
            .map_err(|e| crate::Error::builder(format!("configuring hickory-dns: {e}")))?;
        Ok(HickoryResolver { inner })
    }

    /// With these name servers (UDP, then TCP for truncated answers).
    pub fn with_name_servers(servers: &[SocketAddr]) -> crate::Result<HickoryResolver> {
        use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
        let name_servers = servers
            .iter()
            .map(|s| {
                let mut udp = ConnectionConfig::udp();
                udp.port = s.port();
                let mut tcp = ConnectionConfig::tcp();
                tcp.port = s.port();
                NameServerConfig::new(s.ip(), true, vec![udp, tcp])
            })
            .collect();
        let inner = hickory_resolver::Resolver::builder_with_config(
            ResolverConfig::from_name_servers(name_servers),
            hickory_resolver::net::runtime::TokioRuntimeProvider::default(),
        )
        .build()
        .map_err(|e| crate::Error::builder(format!("configuring hickory-dns: {e}")))?;
        Ok(HickoryResolver { inner })
    }
}

#[cfg(feature = "hickory-dns")]
#[cfg_attr(docsrs, doc(cfg(feature = "hickory-dns")))]
impl std::fmt::Debug for HickoryResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HickoryResolver")
    }
}

#[cfg(feature = "hickory-dns")]
#[cfg_attr(docsrs, doc(cfg(feature = "hickory-dns")))]
impl Resolve for HickoryResolver {
    fn resolve<'a>(&'a self, host: &'a str) -> Resolving<'a> {
        Box::pin(async move { self.resolve_with_ttl(host).await.map(|(ips, _)| ips) })
    }

    fn resolve_with_ttl<'a>(&'a self, host: &'a str) -> ResolvingWithTtl<'a> {
        Box::pin(async move {
            let lookup = self
                .inner
                .lookup_ip(host)
                .await
                .map_err(std::io::Error::other)?;
            let ttl = lookup
                .valid_until()
                .saturating_duration_since(Instant::now());
            Ok((lookup.iter().collect(), Some(ttl)))
        })
    }
}

/// Orders addresses for Happy Eyeballs (RFC 8305 §4): alternate the families, starting with
/// the family of the first address, keeping each family's own order.
pub(crate) fn interleave(addrs: Vec<SocketAddr>) -> Vec<SocketAddr> {
    let Some(first) = addrs.first() else {
        return addrs;
    };
    let first_v6 = first.is_ipv6();
    let (mut a, mut b): (Vec<_>, Vec<_>) = addrs.into_iter().partition(|x| x.is_ipv6() == first_v6);
    let mut out = Vec::with_capacity(a.len() + b.len());
    a.reverse();
    b.reverse();
    loop {
        match (a.pop(), b.pop()) {
            (None, None) => return out,
            (x, y) => out.extend(x.into_iter().chain(y)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_alternate_from_the_first() {
        let v4 = |n: u8| SocketAddr::from(([127, 0, 0, n], 80));
        let v6 = |n: u16| SocketAddr::from(([0, 0, 0, 0, 0, 0, 0, n], 80));
        assert_eq!(
            interleave(vec![v6(1), v6(2), v6(3), v4(1)]),
            vec![v6(1), v4(1), v6(2), v6(3)]
        );
        assert_eq!(interleave(vec![v4(1), v4(2)]), vec![v4(1), v4(2)]);
        assert_eq!(interleave(vec![]), vec![]);
    }

    /// Answers 127.0.0.1 for every name.
    struct Loopback;

    impl Resolve for Loopback {
        fn resolve<'a>(&'a self, _host: &'a str) -> Resolving<'a> {
            Box::pin(async { Ok(vec![IpAddr::from([127, 0, 0, 1])]) })
        }
    }

    fn cache() -> DnsCache {
        DnsCache::new(Arc::new(Loopback), DnsConfig::default(), HashMap::new())
    }

    #[tokio::test]
    async fn the_cache_keeps_at_most_max_hosts_names() {
        let c = cache();
        for i in 0..MAX_HOSTS * 3 {
            let addrs = c.lookup(&format!("h{i}.test"), 80).await.unwrap();
            assert_eq!(addrs, [SocketAddr::from(([127, 0, 0, 1], 80))]);
            assert!(
                crate::sync::lock(&c.entries).len() <= MAX_HOSTS,
                "after {i}"
            );
        }
        // The newest names are still cached.
        let before = c.stats().lookups;
        c.lookup(&format!("h{}.test", MAX_HOSTS * 3 - 1), 80)
            .await
            .unwrap();
        assert_eq!(c.stats().lookups, before);
    }

    #[tokio::test]
    async fn a_poisoned_cache_lock_still_answers() {
        let c = cache();
        crate::sync::poison(&c.entries);
        assert_eq!(c.lookup("x.test", 80).await.unwrap().len(), 1);
    }
}
